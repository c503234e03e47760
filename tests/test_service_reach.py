"""Whether the daemon's account can read the config and the secrets, as the kernel decides
it (core.config.reach): every folder on the way, and POSIX ACLs, not the file's mode alone.

An administrator kept the gateway token in a 0700 folder of root's: root's `config check`
said "ok" (the file itself root:SERVICE 0640), then the daemon could not read it. The
same with the config itself: the daemon could not start and nothing had said so. And a
token opened to the daemon by an ACL (root:root 0600, user:SERVICE:r) was said unreadable.

Runs as root (as CI does): real OS users and groups made by install.sh (the `server`
fixture of test_server_install, which removes them after), real files, the real CLI.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import struct

import pytest
from test_server_install import (  # noqa: F401 - `server` and `strict_umask` are fixtures
    ENV,
    _run,
    cli,
    configure,
    pytestmark_root,
    server,
    strict_umask,
)

ACL = "system.posix_acl_access"


def acl(*entries: tuple[int, int, int]) -> bytes:
    """A POSIX ACL as setfacl writes it (linux/posix_acl_xattr.h): version 2, then entries."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


ANY = 0xFFFFFFFF


def daemon_once(s, config=None):
    once = [str(s.bin / "clinicast"), "daemon", "--once", "--config", str(config or s.config)]
    return _run(["runuser", "-u", s.service, "--", *once], env=ENV, cwd="/")


@pytestmark_root
@pytest.mark.slow
def test_a_secret_or_the_config_in_a_folder_closed_to_the_daemon_is_said(server):  # noqa: F811 - the fixture
    s = server
    configure(s, "http://127.0.0.1:9/send")
    private = s.etc / "private"
    private.mkdir(mode=0o700)  # root's own folder: the daemon cannot go through it
    os.chmod(private, 0o700)
    token = private / "gateway.token"
    shutil.copy2(s.etc / "gateway.token", token)
    os.chown(token, 0, grp.getgrnam(s.service).gr_gid)  # the file itself as install.sh makes it
    os.chmod(token, 0o640)
    text = s.config.read_text()
    s.config.write_text(text.replace(str(s.etc / "gateway.token"), str(token)))
    moved = private / "config.toml"
    try:
        check = cli(s, "root", "config", "check")
        folder_fix = f"chmod o+x {private}"
        assert check.returncode == 1, (check.stdout, check.stderr)
        said = [line for line in check.stdout.splitlines() if folder_fix in line]
        assert len(said) == 1 and s.service in said[0] and "gateway.token_file" in said[0], check.stdout
        assert str(private) in said[0] and "chown" not in said[0], said
        # the service account's own check names the folder, not a chown of the file that would change nothing
        check = cli(s, s.service, "config", "check")
        assert check.returncode == 1 and folder_fix in check.stdout and "chown" not in check.stdout, check.stdout
        res = daemon_once(s)
        assert "event=channel_paused" in res.stderr and folder_fix in res.stderr, res.stderr

        # the config itself in that folder: root's check says the daemon cannot start
        shutil.copy2(s.config, moved)
        res = _run(["runuser", "-u", "root", "--", str(s.bin / "clinicast"), "config", "check", "--config", str(moved)])
        assert res.returncode == 1, (res.stdout, res.stderr)
        lines = res.stdout.splitlines()
        said = [line for line in lines if str(moved) in line and s.service in line and "users." not in line]
        assert len(said) == 1 and folder_fix in said[0], res.stdout  # root reads the clinic's French
        assert daemon_once(s, moved).returncode == 2  # as said: the daemon cannot read it
    finally:
        s.config.write_text(text)
        shutil.rmtree(private)
    assert cli(s, "root", "config", "check").returncode == 0


@pytestmark_root
@pytest.mark.slow
def test_an_acl_decides_whether_the_daemon_can_read_a_secret(server):  # noqa: F811 - the fixture
    s = server
    configure(s, "http://127.0.0.1:9/send")
    token = s.etc / "gateway.token"
    uid = pwd.getpwnam(s.service).pw_uid
    try:
        # root:root 0600, opened to the service account alone by an ACL (setfacl -m u:SERVICE:r)
        os.chown(token, 0, 0)
        os.setxattr(token, ACL, acl((0x01, 6, ANY), (0x02, 4, uid), (0x04, 0, ANY), (0x10, 4, ANY), (0x20, 0, ANY)))
        assert _run(["runuser", "-u", s.service, "--", "cat", str(token)]).returncode == 0
        check = cli(s, "root", "config", "check")
        assert check.returncode == 0 and "cannot read" not in check.stdout, check.stdout

        # root:SERVICE "0640" whose ACL gives its group nothing (the mode shows the mask): refused
        os.chown(token, 0, grp.getgrnam(s.service).gr_gid)
        os.setxattr(token, ACL, acl((0x01, 6, ANY), (0x04, 0, ANY), (0x10, 4, ANY), (0x20, 0, ANY)))
        assert _run(["runuser", "-u", s.service, "--", "cat", str(token)]).returncode != 0
        check = cli(s, "root", "config", "check")
        assert check.returncode == 1, (check.stdout, check.stderr)
        said = [line for line in check.stdout.splitlines() if "gateway.token_file" in line and s.service in line]
        assert len(said) == 1 and str(token) in said[0], check.stdout
    finally:
        os.removexattr(token, ACL)
        os.chown(token, 0, grp.getgrnam(s.service).gr_gid)
        os.chmod(token, 0o640)
    assert cli(s, "root", "config", "check").returncode == 0


@pytestmark_root
@pytest.mark.slow
def test_a_config_the_daemon_cannot_read_is_said_by_root_and_staff(server):  # noqa: F811 - the fixture
    """The service account taken out of the staff group (or the config made 0600): root's
    and a staff member's `config check` said ok, then the daemon could not start."""
    s = server
    configure(s, "http://127.0.0.1:9/send")
    _run(["gpasswd", "-d", s.service, s.staff])
    try:
        join = f"usermod -aG {s.staff} {s.service}"
        for user in ("root", s.staff1):
            check = cli(s, user, "config", "check")
            assert check.returncode == 1 and join in check.stdout, (user, check.stdout)
        assert daemon_once(s).returncode == 2  # as said
        os.chmod(s.config, 0o600)
        check = cli(s, "root", "config", "check")
        chmod = f"chmod 0640 {s.config}"
        assert check.returncode == 1 and chmod in check.stdout and join not in check.stdout, check.stdout
    finally:
        os.chmod(s.config, 0o640)
        _run(["usermod", "-aG", s.staff, s.service])
    for user in ("root", s.staff1, s.service):
        assert cli(s, user, "config", "check").returncode == 0, user


@pytestmark_root
@pytest.mark.slow
def test_a_folder_above_the_database_closed_to_the_daemon_and_staff_is_said(server):  # noqa: F811 - the fixture
    """The database's folder right (2770 SERVICE:STAFF) but a folder above it 0700 root's:
    `config check` by staff and the service account, and the daemon, ended in a traceback;
    root's check said ok. Each says which folder and the fix."""
    s = server
    configure(s, "http://127.0.0.1:9/send")
    above = s.data.parent
    fix = f"chmod o+x {above}"
    os.chmod(above, 0o700)
    try:
        check = cli(s, "root", "config", "check")
        assert check.returncode == 1 and "Traceback" not in check.stderr, (check.stdout, check.stderr)
        said = [line for line in check.stdout.splitlines() if fix in line]
        assert len(said) == 3 and s.service in said[0], check.stdout  # the daemon, then each staff login
        assert f"users.{s.staff1}" in said[1] and f"users.{s.staff2}" in said[2], check.stdout
        for user in (s.staff1, s.service):
            check = cli(s, user, "config", "check")
            assert check.returncode == 1 and fix in check.stdout, (user, check.stdout, check.stderr)
            assert "Traceback" not in check.stderr, check.stderr
        res = daemon_once(s)
        assert res.returncode == 1 and fix in res.stderr and "Traceback" not in res.stderr, res.stderr
        res = cli(s, s.staff1, "status")
        assert res.returncode == 1 and fix in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    finally:
        os.chmod(above, 0o755)
    for user in ("root", s.staff1, s.service):
        assert cli(s, user, "config", "check").returncode == 0, user


@pytestmark_root
@pytest.mark.slow
def test_an_empty_token_is_said_alike_by_root_staff_and_the_service_account(server):  # noqa: F811 - the fixture
    """The token file left empty (as install.sh leaves it): root's and the service
    account's checks exit 2 ("is empty"), a staff member's said ok and "the daemon
    sends" — its size is seen without reading it."""
    s = server
    configure(s, "http://127.0.0.1:9/send")
    token = s.etc / "gateway.token"
    saved = token.read_bytes()
    with open(token, "w"):  # keeps its owner and mode, as an editor does
        pass
    try:
        for user in ("root", s.staff1, s.service):
            check = cli(s, user, "config", "check")
            assert check.returncode == 2 and "gateway.token_file" in check.stdout, (user, check.stdout)
            assert str(token) in check.stdout and "does everything but send" not in check.stdout, check.stdout
    finally:
        with open(token, "wb") as f:
            f.write(saved)
    for user in ("root", s.staff1, s.service):
        assert cli(s, user, "config", "check").returncode == 0, user
