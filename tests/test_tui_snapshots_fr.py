"""Snapshots of every screen in French at 80×24 and 120×40 (issue #17 item 4, SPEC §12).

French runs about 20 % longer than English: these pictures are where a cut word shows
(a column header, a footer key, a button, a status line). The screens and how each is
reached are tests/tui_helpers.SCREENS (the pseudo-locale scan walks the same ones); the
world and the snapshot's steps are the English snapshots' (tests/test_tui_snapshots.py),
with a staff member whose language is French.
Update with `pytest tests/test_tui_snapshots_fr.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import pytest
from tui_helpers import (
    LOGIN,
    SCREENS,
    SIZE_IDS,
    SIZES,
    go,
    make_world,
    screen_id,
    snap,
    snapshot_world,
    users_toml,
    write_config,
)

from core import context, i18n
from tui.app import make_app

sizes = pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)


@pytest.fixture(scope="module")
def fr_world(tmp_path_factory):
    """One read-only world for every snapshot of this module; its staff member reads French."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "login_name", lambda: LOGIN)
        return snapshot_world(tmp_path_factory.mktemp("snap-fr"), language="fr")


@pytest.fixture
def world(fr_world, monkeypatch):
    monkeypatch.setattr(context, "login_name", lambda: LOGIN)
    monkeypatch.chdir(fr_world.folder)
    return fr_world


# Every screen; the command palette lists its one provider's commands in their order
# (tui/commands.py). The audit trail in a world of its own: the screens before it add
# their reads of patient data to the module's world's trail.
PICTURED = [name for name in SCREENS if name != "audit trail"]


@sizes
@pytest.mark.parametrize("name", [pytest.param(name, id=screen_id(name)) for name in PICTURED])
def test_screen_in_french(snap_compare, world, name, size):
    steps, _typed, delay = SCREENS[name]
    snap(snap_compare, world, size, *steps, delay=delay)
    assert i18n.current() == "fr"  # the app spoke its user's language


@sizes
def test_audit_trail_in_french(snap_compare, tmp_path, monkeypatch, size):
    """A fresh world's trail: its import names a path fixed for every run (SNAPSHOT_IMPORTS)."""
    monkeypatch.setattr(context, "login_name", lambda: LOGIN)
    world = snapshot_world(tmp_path / "w", language="fr")
    monkeypatch.chdir(world.folder)
    steps, _typed, delay = SCREENS["audit trail"]
    snap(snap_compare, world, size, *steps, delay=delay)


PROBLEMS = ["broken config", "database needs init", "no permission"]


@sizes
@pytest.mark.parametrize("name", [pytest.param(name, id=screen_id(name)) for name in PROBLEMS])
def test_problem_screen_in_french(snap_compare, tmp_path, monkeypatch, name, size):
    """What the app says instead of opening, in the clinic's language (French here)."""
    monkeypatch.setattr(context, "login_name", lambda: LOGIN)
    monkeypatch.chdir(tmp_path)
    if name == "broken config":
        (tmp_path / "clinicast.toml").write_text(
            '[clinic]\nname = "Clinique"\ntimezone = "Mars/Olympus"\ndefault_language = "fr"\n[database]\n'
            'url = "mysql://x"\n[gateway]\ntransport = "pigeon"\n',
            encoding="utf-8",
        )
    elif name == "database needs init":
        write_config(tmp_path, users=users_toml(language=""))  # no language of their own: the clinic's
        (tmp_path / "clinicast.db").touch()  # made, never initialised (a missing one names its path)
    else:
        make_world(tmp_path, populate=False)
        write_config(tmp_path, users='[users.jdoe]\nname = "Jean Doe"\npermissions = ["campaigns"]\n')
    assert snap_compare(make_app("clinicast.toml", scheduler=False, blink=False), terminal_size=size, run_before=go())
