"""A staff login outside the group that can read the config file (deploy/install.sh:
root:STAFF, 0640) is told whose file it is and the command that lets them in; root's
`config check` warns of such a [users] login. Real OS accounts: runs as root, as in CI."""

import encodings.idna  # noqa: F401 - loaded before acting as a user who cannot read this Python's files
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_config

from core import config as cfg
from core import preferences

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes OS users and groups: runs as root, as in CI")


@pytest.fixture
def outsider():
    """A login and a staff group it is not in; both removed after."""
    login, staff = "cco" + uuid.uuid4().hex[:6], "ccs" + uuid.uuid4().hex[:6]
    subprocess.run(["groupadd", staff], check=True)
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", login], check=True)
    try:
        yield login, staff
    finally:
        subprocess.run(["userdel", "--force", login], check=False)
        subprocess.run(["groupdel", staff], check=False)


@contextmanager
def acting_as(login):
    """This process with `login`'s effective user and groups (as their session has them)."""
    entry = pwd.getpwnam(login)
    groups = os.getgroups()
    os.setgroups([g.gr_gid for g in grp.getgrall() if login in g.gr_mem])
    os.setegid(entry.pw_gid)
    os.seteuid(entry.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


@pytest.fixture
def folder():
    """A folder every user can walk to (pytest's tmp_path is under a 0700 folder of root's)."""
    path = Path(tempfile.mkdtemp(prefix="clinicast-access-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def staff_config(tmp_path, login, staff):
    users = f'[users.{login}]\nname = "Outsider"\npermissions = ["campaigns"]\nlanguage = "en"\n'
    path = write_config(tmp_path, f"sqlite:///{(tmp_path / 'c.db').as_posix().lstrip('/')}", users=users)
    # root, not under [users], reads the clinic's language: English, as the suite reads
    path.write_text(path.read_text().replace('default_language = "fr"', 'default_language = "en"'))
    os.chown(path, 0, grp.getgrnam(staff).gr_gid)
    path.chmod(0o640)
    return path


def test_a_login_outside_the_staff_group_is_told_the_group_to_join(folder, outsider, monkeypatch):
    login, staff = outsider
    path = staff_config(folder, login, staff)
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")
    with acting_as(login):
        with pytest.raises(cfg.ConfigError) as e:
            cfg.load(path, env={})
        decided = preferences.decide(str(path), login)
    assert str(e.value) == (
        f"{path}: cannot read: permission denied; it belongs to root:{staff} (mode 0640) and {login} is not in "
        f"the group {staff}: an administrator runs `usermod -aG {staff} {login}`, then {login} logs in again"
    )
    assert decided.language == "fr"  # the file unread, their LANG decides the words

    # added to the group, but this session began before: log in again
    subprocess.run(["usermod", "-aG", staff, login], check=True)
    groups = os.getgroups()
    entry = pwd.getpwnam(login)
    os.setgroups([])
    os.setegid(entry.pw_gid)
    os.seteuid(entry.pw_uid)
    try:
        with pytest.raises(cfg.ConfigError) as e:
            cfg.load(path, env={})
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)
    assert f"{login} was added to the group {staff} after this session began: log out and log in again" in str(e.value)
    with acting_as(login):  # a new session: in
        assert cfg.load(path, env={}).users[login].name == "Outsider"


def test_roots_config_check_warns_of_a_login_outside_the_staff_group(folder, outsider):
    from cli import cli

    login, staff = outsider
    path = staff_config(folder, login, staff)
    warning = (
        f"users.{login}: {login} is not in the group {staff} that can read {path}, so clinicast cannot start for "
        f"them; run usermod -aG {staff} {login} (then {login} logs in again)"
    )
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert warning in res.stdout, res.stdout
    subprocess.run(["usermod", "-aG", staff, login], check=True)
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert f"users.{login}:" not in res.stdout, res.stdout


def test_a_folder_on_the_way_closed_to_the_login_is_named_with_the_fix(folder, outsider):
    """The daemon's log and a staff member said "cannot read: permission denied" and no
    more when the config sat in a 0700 folder of root's: the folder is named, and the fix."""
    login, staff = outsider
    closed = folder / "private"
    closed.mkdir()
    closed.chmod(0o700)
    path = staff_config(closed, login, staff)
    subprocess.run(["usermod", "-aG", staff, login], check=True)  # the file's own mode lets them in
    with acting_as(login):
        with pytest.raises(cfg.ConfigError) as e:
            cfg.load(path, env={})
    assert str(e.value) == (
        f"{path}: cannot read: permission denied; {login} cannot go through the folder {closed} (root:root, mode "
        f"0700): an administrator moves the file to a folder {login} can go through, or runs chmod o+x {closed}"
    )
    closed.chmod(0o711)  # as said: in
    with acting_as(login):
        assert cfg.load(path, env={}).users[login].name == "Outsider"


def test_a_check_before_init_says_what_follows_once_the_database_is_made(folder, outsider):
    """Before `init` a staff member's check said "the daemon sends" beside "does not exist
    yet", and root's "root can send": nothing sends before the database is made. Each now
    says what follows once it is."""
    from cli import cli

    login, staff = outsider
    subprocess.run(["usermod", "-aG", staff, login], check=True)
    token = folder / "gateway.token"
    token.write_text("tok\n")
    token.chmod(0o600)  # root's: the staff member cannot read it, as on a server
    path = staff_config(folder, login, staff)
    gateway = f'[gateway]\ntransport = "http"\nurl = "http://127.0.0.1:9"\ntoken_file = "{token}"'
    text = path.read_text().replace('[gateway]\ntransport = "log"', gateway)
    text = text.replace(f'path = "{folder / "gateway.log"}"\n', "")
    path.write_text(text)
    db = folder / "c.db"

    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})  # root, before init
    assert "does not exist yet" in res.stdout, res.stdout
    assert "secrets: so root can send" not in res.stdout, res.stdout
    assert "secrets: so root will be able to send once `clinicast init` has made the database" in res.stdout
    with acting_as(login):
        res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert res.exit_code == 1 and "does not exist yet" in res.stdout, (res.exit_code, res.stdout, res.stderr)
    assert "the daemon sends" not in res.stdout, res.stdout
    assert (
        f"secrets: so, once `clinicast init` has made the database, {login} will do everything but send: the daemon "
        f"will send (a TUI of {login}'s never does); this is how a shared server is meant to be"
    ) in res.stdout, res.stdout
    assert not db.exists() and not (folder / "c.db-wal").exists(), "a check only looks"

    # made: the present tense again
    from core import db as dbmod

    dbmod.bind(f"sqlite:///{db.as_posix().lstrip('/')}")
    dbmod.migrate()
    dbmod.database.close()
    db.chmod(0o666)
    with acting_as(login):
        res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert f"so {login} does everything but send: the daemon sends" in res.stdout, res.stdout


@pytest.mark.pg
def test_a_check_that_could_not_use_the_database_claims_no_one_sends(folder, outsider):
    """Root's check on PostgreSQL said "secrets: so root can send" under "the PostgreSQL
    server has no role …": nobody sends from a database they cannot open. A staff
    member's said "the daemon sends" as if it had been seen to work. Each now says what is
    true: this user cannot send (or use clinicast) now, and the database line says why."""
    from urllib.parse import urlsplit

    from conftest import PG_URL

    from cli import cli

    if not PG_URL:
        pytest.skip("PostgreSQL tests need CLINICAST_TEST_PG_URL")
    login, staff = outsider
    subprocess.run(["usermod", "-aG", staff, login], check=True)
    token = folder / "gateway.token"
    token.write_text("tok\n")
    token.chmod(0o600)  # root's: the staff member cannot read it, as on a server
    path = staff_config(folder, login, staff)
    u = urlsplit(PG_URL)
    url = u._replace(netloc="r_" + uuid.uuid4().hex[:10] + "@" + u.netloc.rpartition("@")[2]).geturl()  # no such role
    gateway = f'[gateway]\ntransport = "http"\nurl = "http://127.0.0.1:9"\ntoken_file = "{token}"'
    text = path.read_text().replace('[gateway]\ntransport = "log"', gateway)
    text = text.replace(f'path = "{folder / "gateway.log"}"\n', "")
    text = text.replace(f'url = "sqlite:///{(folder / "c.db").as_posix().lstrip("/")}"', f'url = "{url}"')
    path.write_text(text)

    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})  # root
    assert res.exit_code == 1 and "has no role" in res.stdout, (res.exit_code, res.stdout, res.stderr)
    assert "can send" not in res.stdout, res.stdout
    assert "secrets: so root cannot send: root could not use the database (the database line says why)" in res.stdout
    with acting_as(login):
        res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert res.exit_code == 1 and "has no role" in res.stdout, (res.exit_code, res.stdout, res.stderr)
    assert "the daemon sends" not in res.stdout and "can send" not in res.stdout, res.stdout
    assert (
        f"secrets: so {login} cannot use clinicast now (the database line says why); once they can, {login} will do "
        f"everything but send: sending is the daemon's (a TUI of {login}'s never sends)"
    ) in res.stdout, res.stdout
