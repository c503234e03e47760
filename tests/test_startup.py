"""A command loads what it needs when it needs it (issue #21): `clinicast --version`
loads neither the core nor the database driver, a command on SQLite never loads
psycopg, and every command is found through `cli.base.COMMAND_MODULES` (one
registration: the decorators where each command is written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from conftest import write_config

HEAVY = ("peewee", "psycopg", "textual", "jinja2", "httpx", "core.models", "core.config")


def _modules_after(argv: list[str], env: dict | None = None) -> tuple[int, list[str]]:
    """(exit status, heavy modules loaded) of `clinicast ARGV` run in a fresh interpreter."""
    code = textwrap.dedent(f"""
        import json, sys
        from cli import main
        try:
            main({argv!r})
        except SystemExit as e:
            code = e.code or 0
        loaded = sorted(m for m in sys.modules if m in {HEAVY!r})
        print("\\n" + json.dumps([code, loaded]))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    code_, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return code_, loaded


def test_version_loads_no_core_no_driver():
    code, loaded = _modules_after(["--version"])
    assert (code, loaded) == (0, [])


def test_a_sqlite_command_never_loads_psycopg_nor_templating(tmp_path, sqlite_url):
    config = write_config(tmp_path, sqlite_url)
    code, loaded = _modules_after(["init", "--config", str(config)])
    assert code == 0
    code, loaded = _modules_after(["campaigns", "list", "--config", str(config)])
    assert code == 0
    assert "peewee" in loaded and "psycopg" not in loaded
    assert "jinja2" not in loaded  # a read loads no templating (core.campaigns' actions wait)


def test_postgresql_after_a_deferred_driver(pg_schema, tmp_path):
    """peewee imported first without psycopg still opens PostgreSQL (core.orm hands the
    driver over): a command that migrates and lists, in a fresh interpreter."""
    config = write_config(tmp_path, pg_schema)
    assert _modules_after(["init", "--config", str(config)])[0] == 0
    code, loaded = _modules_after(["campaigns", "list", "--json", "--config", str(config)])
    assert code == 0 and "psycopg" in loaded


def test_every_command_is_registered_by_the_module_named_for_it():
    code = textwrap.dedent("""
        import importlib, json
        import pkgutil
        import cli
        from cli.base import COMMAND_MODULES, cli as group
        found = {}
        for name, module in sorted(COMMAND_MODULES.items()):
            importlib.import_module(module)
            found[name] = name in group.commands
        for m in pkgutil.iter_modules(cli.__path__):
            if m.name != "__main__":  # `python -m cli` itself: it runs the command line
                importlib.import_module(f"cli.{m.name}")
        print(json.dumps([found, sorted(group.commands)]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found, every = json.loads(out.stdout)
    assert all(found.values()), found
    assert every == sorted(found)  # no command outside the map (it would never be found)
