"""Shared fixtures: a fresh database per test (SQLite file or its own PostgreSQL schema),
a config file pointing at it, and the login name of whoever runs the tests."""

from __future__ import annotations

import os
import pwd
import textwrap
import uuid
from pathlib import Path

import pytest

# the pseudo-locale's fixtures (issue #17): `pseudo_locale` for a test that runs in it
from pseudo import pseudo_locale, pseudo_localedir  # noqa: F401
from textual.pilot import Pilot

from core import config as cfg
from core import db as dbmod

# Textual's Pilot gives a screen 30 s of wall-clock time to handle its pending messages, then
# raises WaitForScreenTimeout: on a loaded 2-core machine (two tests, other work) a busy
# screen has taken longer, a slow machine and not a hang (#22). Room: five minutes, under
# pytest-timeout's 900 s per test.
Pilot._wait_for_screen.__defaults__ = (300.0,)

PG_URL = os.environ.get("CLINICAST_TEST_PG_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
LOGIN = pwd.getpwuid(os.geteuid()).pw_name


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema():
    """A PostgreSQL URL whose search_path is a schema made for this test alone."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("CLINICAST_TEST_PG_URL is not set, and CI=true requires PostgreSQL")
        pytest.skip("PostgreSQL tests need CLINICAST_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    try:
        conn = psycopg.connect(PG_URL.replace("postgresql://", "postgresql://", 1), autocommit=True)
    except psycopg.OperationalError as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL at CLINICAST_TEST_PG_URL is not reachable: {e}")
        pytest.skip(f"PostgreSQL at CLINICAST_TEST_PG_URL is not reachable: {e}")
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(params=["sqlite", "pg"])
def db_url(request, tmp_path):
    """Each test runs once on a SQLite file and once on its own PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'clinicast.db').as_posix().lstrip('/')}"
    return request.getfixturevalue("pg_schema")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{(tmp_path / 'clinicast.db').as_posix().lstrip('/')}"


# tests send whenever the machine runs them; a test about sending hours sets its own
ANY_TIME = '[sending]\nhours = "00:00-24:00"\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'


def write_config(tmp_path: Path, db_url: str, *, users: str | None = None, extra: str = "") -> Path:
    """A complete config file using local sinks; `users` replaces the [users] tables."""
    if users is None:
        # the suite reads English; the French staff member is tests/test_i18n_*.py's
        users = f'[users.{LOGIN}]\nname = "Test Admin"\npermissions = ["campaigns", "admin"]\nlanguage = "en"\n'
    text = (
        textwrap.dedent(f"""\
        [clinic]
        name = "Clinique du Parc"
        phone = "514-555-0100"
        address = "1234 rue Saint-Denis, Montréal QC"
        app_url = "https://app.example.org/join"
        timezone = "America/Toronto"
        default_language = "fr"

        [database]
        url = "{db_url}"

        [email]
        transport = "maildir"
        path = "{tmp_path / "maildir"}"
        from = "Clinique du Parc <no-reply@example.org>"

        [gateway]
        transport = "log"
        path = "{tmp_path / "gateway.log"}"
        """)
        + (ANY_TIME if "[sending]" not in extra else "")
        + extra
        + "\n"
        + users
    )
    p = tmp_path / "clinicast.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(autouse=True)
def _not_over_ssh(monkeypatch):
    """The suite behaves alike however CI runs it: the TUI's export asks differently over
    SSH (core.ssh.over_ssh) and the daemon keeps the audit head in systemd's
    $STATE_DIRECTORY, so each test sets SSH_CONNECTION and STATE_DIRECTORY itself."""
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)


@pytest.fixture(autouse=True)
def _own_state_folder(monkeypatch, tmp_path_factory):
    """Drafts (core/drafts.py) go to the login's state folder: each test has its own,
    never the real ~/.local/state of whoever runs the suite."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def _english():
    """The language is the process's (core.i18n): each test starts in English."""
    from core import i18n

    i18n.use("en")
    yield
    i18n.use("en")


@pytest.fixture
def config_path(tmp_path, db_url):
    return write_config(tmp_path, db_url)


@pytest.fixture
def config(config_path):
    return cfg.load(config_path, env={})


@pytest.fixture
def db(config):
    """The bound, migrated database for this test's config."""
    database = dbmod.bind(config.database.url)
    dbmod.migrate()
    yield database
    database.close()


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd), for this test alone."""
    from servers import SmtpServer

    with SmtpServer() as server:
        yield server


@pytest.fixture
def gw():
    """The loopback gateway (token "tok"), for this test alone."""
    from servers import GatewayServer

    with GatewayServer(token="tok") as server:
        yield server


@pytest.fixture
def anyio_backend():
    """The async TUI tests (Pilot) run on asyncio."""
    return "asyncio"


@pytest.fixture
def as_mlaval(monkeypatch):
    """The TUI tests' staff member: the login the test worlds list under [users]."""
    from tui_helpers import LOGIN as TUI_LOGIN

    from core import context

    monkeypatch.setattr(context, "login_name", lambda: TUI_LOGIN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true nothing may quietly not run: a PostgreSQL test without its database,
    an install test not run as root, any other skip, is a failure — unless the test says
    why it may skip there (`@pytest.mark.skip_ok("why")`)."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and not hasattr(rep, "wasxfail") and item.get_closest_marker("skip_ok") is None:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where it must run: {reason}"
