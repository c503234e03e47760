"""Who the process acts as (core.context.for_current_user, SPEC §6 and §13): a listed
login acts as itself with the session's clock; the service account — the owner of the
SQLite database — administers without a [users] entry; anyone else is refused, told
which file to be added to. The OS identity is faked (os.geteuid, the login's name);
the ownership of the database is real (chown)."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime

import pytest
from conftest import write_config

from core import context
from core.config import load
from core.context import for_current_user
from core.enums import Permission
from core.errors import PermissionDenied, UnknownUser

UID = 4242  # no such account on the machine: only the files say who it is
LISTED = '[users.mlaval]\nname = "M. Laval"\npermissions = ["campaigns"]\nlanguage = "en"\n'
AT = datetime(2026, 3, 4, 15, 0)


@pytest.fixture
def as_login(monkeypatch):
    def act_as(login: str, euid: int = UID) -> None:
        monkeypatch.setattr(context, "login_name", lambda: login)
        monkeypatch.setattr(context.os, "geteuid", lambda: euid)

    return act_as


def config_in(tmp_path, owner: int | None = None):
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "clinicast.db"
    db.touch()
    if owner is not None:
        os.chown(db, owner, -1)
        os.chown(folder, owner, -1)
    return load(write_config(tmp_path, f"sqlite:///{db}", users=LISTED), env={})


def test_a_listed_login_acts_as_itself_on_the_sessions_clock(tmp_path, as_login):
    config = config_in(tmp_path)
    as_login("mlaval")
    ctx = for_current_user(config, lambda: AT)
    assert ctx.user.login == "mlaval" and ctx.user.name == "M. Laval"
    assert ctx.now() == AT
    assert ctx.holds(Permission.CAMPAIGNS) and not ctx.holds(Permission.ADMIN)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_the_owner_of_the_database_is_the_service_account(tmp_path, as_login):
    config = config_in(tmp_path, owner=UID)
    as_login("clinicast")
    ctx = for_current_user(config, lambda: AT)
    assert ctx.user.login == "clinicast"
    assert ctx.user.name == "clinicast (service account)"
    assert ctx.holds(Permission.ADMIN) and ctx.now() == AT


def test_an_unlisted_login_is_told_which_file_to_be_added_to(tmp_path, as_login):
    config = config_in(tmp_path)  # owned by root: not theirs
    as_login("stranger")
    with pytest.raises(UnknownUser) as refused:
        for_current_user(config, lambda: AT)
    assert str(refused.value) == (
        f"user “stranger” is not a clinicast user: an administrator must add [users.stranger] in {config.path}"
    )


def test_without_a_file_the_refusal_names_none(tmp_path, as_login):
    config = dataclasses.replace(config_in(tmp_path), path=None)
    as_login("stranger")
    with pytest.raises(UnknownUser) as refused:
        for_current_user(config, lambda: AT)
    assert str(refused.value) == ("user “stranger” is not a clinicast user: an administrator must add [users.stranger]")


def test_another_name_for_uid_0_is_refused_not_made_the_service_account(tmp_path, as_login):
    """A second account with uid 0 (BSD's "toor"): not root's name, not listed — refused,
    although uid 0 owns everything (only a non-root owner is the service account)."""
    config = config_in(tmp_path)
    as_login("toor", euid=0)
    with pytest.raises(UnknownUser) as refused:
        for_current_user(config, lambda: AT)
    assert str(refused.value).startswith("user “toor” is not a clinicast user: an administrator must add [users.toor]")


def test_a_refusal_says_who_lacks_what_and_where_to_add_it(tmp_path, as_login):
    config = config_in(tmp_path)
    as_login("mlaval")
    ctx = for_current_user(config, lambda: AT)
    ctx.require(Permission.CAMPAIGNS)  # held: passes
    with pytest.raises(PermissionDenied) as refused:
        ctx.require(Permission.ADMIN)
    assert str(refused.value) == (
        "mlaval lacks the 'admin' permission (ask an administrator to add it under [users.mlaval])"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become a bare uid")
def test_a_uid_without_a_passwd_entry_is_its_number():
    """A process run as a uid the machine has no account for (a container's bare uid):
    its login is the uid's number, as the database's words say it — not a KeyError.
    A forked child becomes that uid with clinicast already imported: no file of the
    checkout need be readable by it (CI's clone sits in a folder only root may enter)."""
    from core import context, dbfiles

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.setgroups([])
            os.setgid(UID)
            os.setuid(UID)
            os.write(write, f"{context.login_name()} {dbfiles.me()}".encode())
            status = 0
        except BaseException as e:  # noqa: BLE001 - said to the parent through the pipe
            os.write(write, repr(e).encode())
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    assert (os.waitstatus_to_exitcode(status), said) == (0, f"{UID} {UID}")
