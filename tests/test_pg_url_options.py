"""libpq's connection parameters written as [database] url options (SPEC §13, README
"Several hosts on PostgreSQL"): `?host=/var/run/postgresql-custom` (a socket in another
folder, the URL's host left empty) and `?port=5433` were refused as "unknown option",
though libpq takes them, as it takes sslmode, application_name, connect_timeout and the
rest. Real PostgreSQL, reached through its own socket folder: each test its own schema
(conftest's pg_schema)."""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from click.testing import CliRunner
from conftest import PG_URL, write_config

from cli import cli
from core import db as dbmod

pytestmark = pytest.mark.pg


@pytest.fixture
def socket_folder():
    """The folder of the test server's unix socket, and its port (the server's own
    unix_socket_directories: /var/run/postgresql on Debian)."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need CLINICAST_TEST_PG_URL")
    with psycopg.connect(PG_URL) as conn:
        folders = conn.execute("SHOW unix_socket_directories").fetchone()[0]
        port = conn.execute("SHOW port").fetchone()[0]
    for folder in (f.strip() for f in folders.split(",")):
        if folder and os.path.exists(f"{folder}/.s.PGSQL.{port}"):
            return folder, port
    pytest.skip("the test server has no unix socket on this host")


def _options(pg_schema: str) -> str:
    """The schema option of conftest's pg_schema URL (?options=-csearch_path%3D…)."""
    return urlsplit(pg_schema).query


def _bound_over(url: str) -> tuple[bool, str, str]:
    """(over a unix socket, application_name, current_user) of `url` bound as clinicast binds it."""
    dbmod.bind(url)
    try:
        row = dbmod.database.execute_sql(
            "SELECT inet_server_addr() IS NULL, current_setting('application_name'), current_user"
        ).fetchone()
    finally:
        dbmod.database.close()
    return row[0], row[1], row[2]


@pytest.mark.skip_ok("the suite's PostgreSQL may be on another host, with no socket here")
def test_a_socket_in_its_own_folder_given_as_host_option_is_used(pg_schema, socket_folder, tmp_path):
    folder, port = socket_folder
    user = urlsplit(PG_URL).username
    url = (
        f"postgresql:///{urlsplit(PG_URL).path.lstrip('/')}?host={folder}&port={port}&user={user}"
        f"&application_name=clinicast-socket&connect_timeout=5&sslmode=disable&{_options(pg_schema)}"
    )
    path = write_config(tmp_path, url)
    res = CliRunner().invoke(cli, ["init", "--config", str(path)], obj={})
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    assert "unknown option" not in res.output, res.output
    line = next(line for line in res.stdout.splitlines() if line.startswith("  database: "))
    assert line.endswith(": schema version " + str(dbmod.migrations.LATEST)), line
    assert _bound_over(url) == (True, "clinicast-socket", user)
    # libpq's other spelling: the folder percent-encoded where the host goes
    encoded = f"postgresql://{user}@{quote(folder, safe='')}:{port}{urlsplit(PG_URL).path}?{_options(pg_schema)}"
    assert _bound_over(encoded)[0] is True


def test_an_option_replaces_the_urls_own_host_port_and_user_as_libpq_does(pg_schema, tmp_path):
    """libpq reads ?port= over the port before the path: a URL naming port 1 (nothing
    listens) with ?port= the server's connects; ?user= names the role the fix speaks of."""
    u = urlsplit(PG_URL)
    host = u.hostname
    url = f"postgresql://{u.username}@{host}:1{u.path}?port={u.port or 5432}&{_options(pg_schema)}"
    assert _bound_over(url)[2] == u.username
    path = write_config(tmp_path, f"postgresql://{host}:{u.port or 5432}{u.path}?user=r_no_such_role_q1")
    res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
    line = next(line for line in res.stdout.splitlines() if line.startswith("  database: "))
    assert res.exit_code == 1 and "has no role r_no_such_role_q1" in line, line
