"""A secret the service account cannot read, on a real clinic server (SPEC §13): the
administrator's review made the token file `root:root 0600` after deploy/install.sh.
`config check` run by root and by a staff member (as the README asks) must say the
daemon cannot read it, with the fix, and exit 1 — as the service account's own check
does; and the daemon, which is the account that sends, must not say the file "is for
the account that sends".

Runs as root (as CI does): real OS users and groups made by install.sh (the `server`
fixture of test_server_install, which removes them after), real files, the real CLI
run through runuser.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import write_config
from test_dbfiles import clinicast
from test_server_install import (  # noqa: F401 - `server` and `strict_umask` are fixtures
    ENV,
    _run,
    cli,
    configure,
    pytestmark_root,
    server,
    strict_umask,
)


@pytest.fixture
def walkable():
    """A folder every account can go through: pytest's tmp_path is under a 0700 folder of
    root's, which the daemon's account could not go through (core.config.reach)."""
    path = Path(tempfile.mkdtemp(prefix="clinicast-owner-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def fix(s, path):
    return f"chown root:{s.service} {path} && chmod 0640 {path}"


@pytestmark_root
@pytest.mark.slow
def test_root_and_staff_are_told_the_service_account_cannot_read_a_secret(server):  # noqa: F811 - the fixture
    s = server
    configure(s, "http://127.0.0.1:9/send")  # the token written, root:SERVICE 0640 as install.sh leaves it
    token = s.etc / "gateway.token"
    for user in ("root", s.staff1, s.service):  # as installed: nobody's check sees a problem with it
        check = cli(s, user, "config", "check")
        assert check.returncode == 0, (user, check.stdout, check.stderr)
        assert fix(s, token) not in check.stdout, check.stdout

    os.chown(token, 0, 0)  # what the review did: chown root:root; chmod 600
    os.chmod(token, 0o600)
    try:
        # root can read it, but the daemon cannot: root's check says so, names the file and the fix
        check = cli(s, "root", "config", "check")
        assert check.returncode == 1, (check.stdout, check.stderr)
        said = [line for line in check.stdout.splitlines() if fix(s, token) in line]
        assert len(said) == 1 and s.service in said[0] and "gateway.token_file" in said[0], check.stdout

        # a staff member (who reads English) is told the same, not "this is how a shared server is meant to be"
        check = cli(s, s.staff1, "config", "check")
        assert check.returncode == 1, (check.stdout, check.stderr)
        assert "problems" in check.stdout.splitlines()[0], check.stdout
        assert (
            f"the gateway token: gateway.token_file: the account that sends, {s.service}, cannot read {token}; "
            f"run as root: {fix(s, token)}"
        ) in check.stdout, check.stdout
        assert f"so nothing can be sent: {s.service} runs the daemon and must be able to read the gateway token" in (
            check.stdout
        )
        assert "does everything but send" not in check.stdout, check.stdout

        # the service account's own check, and the daemon (the account that sends), say it
        # cannot read it, with the fix; never that the file is for the account that sends
        check = cli(s, s.service, "config", "check")
        assert check.returncode == 1, (check.stdout, check.stderr)
        assert fix(s, token) in check.stdout, check.stdout
        once = [str(s.bin / "clinicast"), "daemon", "--once", "--config", str(s.config)]
        res = _run(["runuser", "-u", s.service, "--", *once], env=ENV, cwd="/")
        assert res.returncode == 0 and "event=channel_paused" in res.stderr, res.stderr
        assert fix(s, token) in res.stderr, res.stderr
        for words in ("for the account that sends", "réservé au compte qui envoie"):
            assert words not in check.stdout + res.stderr, check.stdout + res.stderr
    finally:
        os.chown(token, 0, grp.getgrnam(s.service).gr_gid)
        os.chmod(token, 0o640)
    # fixed as said: root's check is ok again, and the daemon resumes the gateway
    check = cli(s, "root", "config", "check")
    assert check.returncode == 0, (check.stdout, check.stderr)
    res = _run(["runuser", "-u", s.service, "--", *once], env=ENV, cwd="/")
    assert res.returncode == 0 and "event=channel_resumed" in res.stderr, res.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="chowns a file to root: runs as root")
def test_on_postgresql_the_url_s_role_names_the_service_account(pg_schema, walkable):
    """No database file to own: the login named like the URL's role runs the daemon (core.context)."""
    tmp_path = walkable
    role = urlsplit(pg_schema).username or ""
    try:
        pw = pwd.getpwnam(role)
    except KeyError:
        pytest.skip(f"no OS login named like the URL's role {role!r}")
    group = grp.getgrgid(pw.pw_gid).gr_name
    token = tmp_path / "gateway.token"
    token.write_text("gw-token\n")
    os.chown(token, 0, 0)
    os.chmod(token, 0o600)
    config = write_config(tmp_path, pg_schema)
    text = config.read_text().replace(
        f'transport = "log"\npath = "{tmp_path / "gateway.log"}"\n',
        f'transport = "http"\nurl = "https://gateway.example.org/send"\ntoken_file = "{token}"\n',
    )
    config.write_text(text)
    config.chmod(0o644)  # the daemon's account reads it too
    assert clinicast(config, "init").returncode == 0
    res = clinicast(config, "config", "check")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert f"chown root:{group} {token} && chmod 0640 {token}" in res.stdout, res.stdout
    os.chown(token, 0, pw.pw_gid)
    os.chmod(token, 0o640)
    res = clinicast(config, "config", "check")
    assert res.returncode == 0 and "chown" not in res.stdout, (res.stdout, res.stderr)
