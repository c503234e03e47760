"""The language a staff member reads, decided once for the TUI and the command line
(core.preferences.language_for, issue #17): the one they chose from the TUI's palette
(remembered per login in the database) when the config and the database can be read —
so `clinicast --help` and click's usage errors follow it too — else the config's; and
`--help` never fails because the database cannot be read."""

from __future__ import annotations

import pytest
from conftest import LOGIN, write_config
from test_i18n_cli import run, users_table

from core import config as cfg
from core import context, i18n, preferences
from core import db as dbmod


@pytest.fixture
def world(tmp_path):
    """A staff member whose config says English, on a migrated SQLite database."""
    url = f"sqlite:///{(tmp_path / 'clinicast.db').as_posix().lstrip('/')}"
    path = write_config(tmp_path, url, users=users_table("en"))
    config = cfg.load(path, env={})
    dbmod.bind(config.database.url)
    dbmod.migrate()
    ctx = context.for_current_user(config)
    dbmod.database.close()
    return path, ctx


def choose(ctx, language: str) -> None:
    dbmod.bind(ctx.config.database.url)
    preferences.set_language(ctx, language)
    dbmod.database.close()


def test_help_follows_the_language_chosen_in_the_palette(world):
    path, ctx = world
    assert run(["--help"], path).out.startswith("Usage:")  # the config's, nothing chosen yet
    choose(ctx, "fr")
    top, sub = run(["--help"], path), run(["campaigns", "create", "--help"], path)
    assert top.code == sub.code == 0
    assert top.out.startswith("Utilisation") and "Afficher ce message et quitter" in top.out, top.out
    assert sub.out.startswith("Utilisation") and "Créer une campagne" in sub.out, sub.out
    bad = run(["campaigns", "create"], path)  # click's usage error, before any command runs
    assert bad.code == 2 and "Option manquante" in bad.err, bad.err
    assert preferences.language_for(str(path), LOGIN) == "fr"
    choose(ctx, "en")  # and back
    assert run(["--help"], path).out.startswith("Usage:")


def test_the_tui_and_the_command_line_decide_alike(world):
    from tui.app import open_session

    path, ctx = world
    choose(ctx, "fr")
    opened = open_session(str(path), ctx.clock)
    assert not hasattr(opened, "advice"), opened
    assert i18n.current() == "fr"


def test_help_in_the_config_s_language_when_the_database_cannot_be_read(world, tmp_path):
    path, ctx = world
    choose(ctx, "fr")
    (tmp_path / "clinicast.db").rename(tmp_path / "elsewhere.db")  # the database is gone
    r = run(["--help"], path)
    assert r.code == 0 and r.out.startswith("Usage:"), r.text
    assert not (tmp_path / "clinicast.db").exists()  # reading the choice created nothing


def test_help_in_the_config_s_language_when_postgresql_does_not_answer(tmp_path):
    pytest.importorskip("psycopg")
    path = write_config(tmp_path, "postgresql://nobody@127.0.0.1:9/clinicast", users=users_table("fr"))
    r = run(["campaigns", "--help"], path)
    assert r.code == 0 and r.out.startswith("Utilisation"), r.text


def test_help_in_the_file_s_language_when_the_config_is_broken(tmp_path):
    url = f"sqlite:///{(tmp_path / 'clinicast.db').as_posix().lstrip('/')}"
    path = write_config(tmp_path, url, users=users_table("fr"), extra="[nonsense]\nkey = 1\n")
    r = run(["--help"], path)
    assert r.code == 0 and r.out.startswith("Utilisation"), r.text


_OPENS = """
import sys
from pathlib import Path

config = Path(sys.argv[1]).resolve()
opened = []
sys.addaudithook(lambda event, args: opened.append(args[0]) if event == "open" else None)
from cli import main

try:
    main(["--config", str(config), "campaigns", "list"])
finally:
    print(sum(isinstance(p, (str, bytes, Path)) and Path(p).resolve() == config for p in opened), file=sys.stderr)
"""


def test_a_command_reads_its_config_once(world):
    """The language is decided before click parses (the config file and the choice saved
    in the database); the command then runs with that config and that choice, read once
    (issue #21: each command read its config file three times and the choice twice)."""
    import subprocess
    import sys

    path, ctx = world
    choose(ctx, "fr")  # the config says English: the saved choice is what the command speaks
    r = subprocess.run([sys.executable, "-c", _OPENS, str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("aucune campagne pour l'instant"), r.stdout
    assert r.stderr.strip().splitlines()[-1] == "1", r.stderr
