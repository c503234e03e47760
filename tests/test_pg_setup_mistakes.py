"""What an administrator gets wrong setting up PostgreSQL for several hosts, said as such
(SPEC §13, README "Several hosts on PostgreSQL"): a role the schema's owner has not let
in, a URL whose search_path misses clinicast's schema or names one that does not exist.
`config check` names the fix in one line and never says "run `clinicast init`" when init
would not help — or would make a second, empty clinicast beside the real one; `init`
refuses the same way and creates nothing. Real PostgreSQL: each test its own schema
(conftest's pg_schema) and its own role."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner
from conftest import PG_URL, write_config

from cli import cli
from core import db as dbmod

pytestmark = pytest.mark.pg


def _with(url: str, *, user: str | None = None, schema: str | None = None) -> str:
    """`url` as another role (no password: the test server trusts loopback) and/or with
    another search_path (None: as it is; "": none at all)."""
    u = urlsplit(url)
    netloc = u.netloc.rpartition("@")[2]
    if user is not None:
        netloc = f"{user}@{netloc}"
    elif "@" in u.netloc:
        netloc = u.netloc
    query = dict(parse_qsl(u.query))
    if schema == "":
        query.pop("options", None)
    elif schema is not None:
        query["options"] = f"-csearch_path={schema}"
    return urlunsplit(u._replace(netloc=netloc, query=urlencode(query)))


@pytest.fixture
def made():
    """A database of its own (other tests' schemas hold clinicast's tables in the shared
    one) with a schema `clinicast` made by `init`, and a role that may log in but was
    granted nothing; (url, schema, role)."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need CLINICAST_TEST_PG_URL")
    name, role, schema = "d_" + uuid.uuid4().hex[:10], "r_" + uuid.uuid4().hex[:10], "clinicast"
    admin = psycopg.connect(PG_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    base = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = _with(base, schema=schema)
    dbmod.bind(url)
    dbmod.migrate()
    dbmod.database.close()
    try:
        yield url, schema, role
    finally:
        dbmod.database.close()
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()


def check(tmp_path, url):
    path = write_config(tmp_path, url)
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert "Traceback" not in res.output, res.output
    line = next(line for line in res.stdout.splitlines() if line.startswith("  database: "))
    return res.exit_code, line


def init(tmp_path, url):
    path = write_config(tmp_path, url)
    res = CliRunner().invoke(cli, ["init", "--config", str(path)], obj={})
    assert "Traceback" not in res.output, res.output
    return res


def tables(url: str, schema: str) -> int:
    with psycopg.connect(_with(url, schema="")) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone()
    return row[0] if row else 0


def test_a_role_without_usage_on_the_schema_is_told_the_grant_not_to_run_init(made, tmp_path):
    url, schema, role = made
    code, line = check(tmp_path, _with(url, user=role))
    assert code == 1
    assert "run `clinicast init`" not in line, line
    assert f"the role {role} may not use the schema {schema}" in line, line
    assert f"GRANT USAGE ON SCHEMA {schema} TO {role}" in line, line
    res = init(tmp_path, _with(url, user=role))
    assert res.exit_code == 1 and f"GRANT USAGE ON SCHEMA {schema} TO {role}" in res.stderr, res.output
    assert "does not answer" not in res.stderr, res.stderr


def test_a_url_without_the_search_path_is_told_where_the_tables_are_and_init_makes_no_second_clinicast(made, tmp_path):
    url, schema, _role = made
    bare = _with(url, schema="")  # the administrator left ?options=-csearch_path%3D… out
    code, line = check(tmp_path, bare)
    assert code == 1 and "run `clinicast init`" not in line, line
    assert f"clinicast's tables are in the schema {schema}" in line, line
    assert f"?options=-csearch_path%3D{schema}" in line, line
    before = tables(url, "public")
    res = init(tmp_path, bare)
    assert res.exit_code == 1 and f"?options=-csearch_path%3D{schema}" in res.stderr, res.output
    assert tables(url, "public") == before, "no second, empty clinicast in public"


def test_a_search_path_naming_a_schema_that_does_not_exist(made, tmp_path):
    url, schema, _role = made
    typo = schema[:-1]
    code, line = check(tmp_path, _with(url, schema=typo))
    assert code == 1 and "run `clinicast init`" not in line, line
    assert f"the schema {typo} does not exist" in line and f"in the schema {schema}" in line, line
    res = init(tmp_path, _with(url, schema=typo))
    assert res.exit_code == 1 and f"the schema {typo} does not exist" in res.stderr, res.output
    assert "does not answer" not in res.stderr, res.stderr


def test_a_new_schema_of_its_own_beside_another_clinicast_is_empty_and_init_makes_it(made, tmp_path):
    """A second clinic in the same database, its own schema named on purpose: not a
    mistake, whatever the first clinic's schema holds."""
    url, _schema, _role = made
    other = "clinique2"
    with psycopg.connect(_with(url, schema=""), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {other}")
    code, line = check(tmp_path, _with(url, schema=other))
    assert code == 1 and "the database is empty: run `clinicast init` to create it" in line, line
    assert init(tmp_path, _with(url, schema=other)).exit_code == 0
    assert tables(url, other) > 0


def test_a_role_let_into_the_schema_but_not_its_tables_is_told_the_grants_by_its_name(made, tmp_path):
    """`GRANT USAGE ON SCHEMA` run, the README's GRANTs on the tables not yet: the check
    said "the PostgreSQL server refused root" — the OS user, not the role refused."""
    url, schema, role = made
    with psycopg.connect(_with(url, schema=""), autocommit=True) as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA {schema} TO "{role}"')
    code, line = check(tmp_path, _with(url, user=role))
    assert code == 1 and "run `clinicast init`" not in line, line
    assert f"the role {role} may not use clinicast's tables" in line, line
    assert f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}" in line, line
    assert "refused root" not in line, line


@pytest.fixture(scope="module")
def scram_server():
    """A PostgreSQL server of this module's own that checks passwords (scram-sha-256):
    the suite's server trusts loopback, so a wrong password would go unnoticed there.
    Its superuser `postgres` has the password `pw`; yields its URL base."""
    import shutil
    import socket
    import subprocess
    import tempfile
    from pathlib import Path

    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins or not shutil.which("runuser") or not PG_URL:
        pytest.skip("needs PostgreSQL's initdb and runuser (root)")
    bin_dir = bins[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="clinicast-scram-"))  # pytest's tmp_path: 0700, root's
    shutil.chown(folder, "postgres")
    (folder / "pw").write_text("pw\n")
    (folder / "pw").chmod(0o644)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = folder / "data"
    run = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-host=scram-sha-256"]
        + ["--auth-local=trust", f"--pwfile={folder / 'pw'}"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [*run, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"127.0.0.1:{port}", folder  # over TCP (passwords), and its socket's folder
    finally:
        subprocess.run([*run, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skip_ok(
    "a PostgreSQL of its own needs initdb on this host and root (runuser); the suite's server may be elsewhere"
)
def test_a_wrong_password_is_said_as_such_for_the_role_and_a_right_one_with_every_reserved_character_works(
    scram_server, tmp_path
):
    """The check said "the PostgreSQL server refused root: … password authentication
    failed for user "postgres"; an administrator must grant this user's role access
    (pg_hba.conf, GRANT)": neither root nor a grant is the matter. A password holding
    / ? # @ % : & written percent-encoded reaches the server as it is."""
    scram_server = scram_server[0]
    with psycopg.connect(f"postgresql://postgres:pw@{scram_server}/postgres", autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD 'S3c#t@p/ss:w%rd?x&y'")
    code, line = check(tmp_path, f"postgresql://postgres:wrong@{scram_server}/postgres")
    assert code == 1, line
    assert "the PostgreSQL server refused the password of the role postgres" in line, line
    assert "fix the password in [database] url" in line and "refused root" not in line and "GRANT" not in line, line
    code, line = check(tmp_path, f"postgresql://nosuchrole:pw@{scram_server}/postgres")  # PostgreSQL says the same
    assert "refused the password of the role nosuchrole (or has no such role)" in line, line
    assert "wrong" not in line, "never the password"
    good = f"postgresql://postgres:S3c%23t%40p%2Fss%3Aw%25rd%3Fx%26y@{scram_server}/postgres"
    code, line = check(tmp_path, good)
    assert "the database is empty: run `clinicast init` to create it" in line, line
    assert "S3c" not in line and "postgres:***@" in line, line


def test_hosts_starting_at_once_each_run_init_and_none_fails(pg_schema, tmp_path):
    """deploy/clinicast.service runs `clinicast init` before each daemon start: hosts
    rebooted or upgraded together ran it at once on one database, and all but one failed
    with "the database server does not answer: duplicate key value violates unique
    constraint" — their units failing, a false word in each journal. Inits now take their
    turn: each says the database is migrated or up to date."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    path = write_config(tmp_path, pg_schema)
    env = dict(os.environ, PYTHONPATH=str(root))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "--config", str(path), "init"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    ended = [(p.wait(120), *p.communicate()) for p in procs]
    assert [code for code, _out, _err in ended] == [0, 0, 0, 0], [err for _c, _o, err in ended]
    said = sorted(out.strip().partition(" (")[0].partition(" from")[0] for _c, out, _e in ended)
    assert said == ["database is up to date"] * 3 + ["database migrated"], said


def test_a_server_that_never_answers_is_said_in_seconds_not_waited_for_forever(tmp_path):
    """A wrong port (a service that waits for the client to speak, as HTTP does) or a
    firewall that drops: `config check`, `status`, the TUI and the daemon's start waited
    for ever (or the two minutes of TCP's own retries). libpq's connect_timeout now
    defaults to 10 s when the URL sets none; the check says the server does not answer."""
    import os
    import socket
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # and never a word
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    root = Path(__file__).resolve().parent.parent
    path = write_config(tmp_path, f"postgresql://postgres@127.0.0.1:{port}/clinicast")
    try:
        t0 = time.monotonic()
        try:
            res = subprocess.run(
                [sys.executable, "-m", "cli", "--config", str(path), "config", "check"],
                cwd=root,
                env=dict(os.environ, PYTHONPATH=str(root)),
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("config check still waiting after 60 s")
        took = time.monotonic() - t0
    finally:
        stop.set()
        thread.join(5)
        for s in held:
            s.close()
        listener.close()
    assert res.returncode == 1 and "Traceback" not in res.stderr, (res.stdout, res.stderr)
    assert "the database server does not answer" in res.stdout and "timeout" in res.stdout, res.stdout
    assert took < 30, took


@pytest.mark.skip_ok(
    "a PostgreSQL of its own needs initdb on this host and root (runuser); the suite's server may be elsewhere"
)
def test_root_without_a_role_is_told_it_needs_none_not_to_be_granted_access(scram_server, tmp_path, monkeypatch):
    """The README's PostgreSQL: a URL without a user, each OS user their own role, peer
    authentication on the socket — and "run `clinicast config check` as root". Root's
    check said "the PostgreSQL server refused root: role "root" does not exist; an
    administrator must grant this user's role access": root is not a clinicast user and
    needs no role; a role that does not exist is one to create, not to grant."""
    import os

    address, folder = scram_server
    monkeypatch.setenv("PGHOST", str(folder))  # libpq's own: the socket, as /var/run/postgresql
    monkeypatch.setenv("PGPORT", address.rpartition(":")[2])
    code, line = check(tmp_path, "postgresql:///postgres")
    assert code == 1 and "grant this user's role access" not in line, line
    if os.geteuid() == 0:
        assert "the PostgreSQL server has no role root" in line, line
        assert "root needs none" in line and "runuser -u" in line, line
    code, line = check(tmp_path, "postgresql://mlaval@/postgres")
    assert "the PostgreSQL server has no role mlaval: its administrator creates it (CREATE ROLE mlaval LOGIN" in line


def test_a_check_by_a_role_the_server_has_not_never_says_it_can_send(tmp_path):
    """Root's `config check` (the README has root run it) on PostgreSQL said "secrets: so
    root can send" two lines under "the PostgreSQL server has no role …": nothing is sent
    from a database that could not be opened. Said of whoever runs the check."""
    from core.context import login_name

    if not PG_URL:
        pytest.skip("PostgreSQL tests need CLINICAST_TEST_PG_URL")
    url = _with(PG_URL, user="r_" + uuid.uuid4().hex[:10])
    path = write_config(tmp_path, url)
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert res.exit_code == 1 and "has no role" in res.stdout, (res.exit_code, res.stdout, res.stderr)
    login = login_name()
    assert f"so {login} can send" not in res.stdout, res.stdout
    assert f"secrets: so {login} cannot send: {login} could not use the database" in res.stdout, res.stdout
