"""Snapshots of every screen at 80×24 and 120×40 (pytest-textual-snapshot).

Deterministic by construction: a frozen clock (every date the screens show comes from
it), a fixed demo seed, the login patched to `mlaval`, no embedded scheduler, cursors
that never blink, workers awaited and notifications cleared before the picture.
Update with `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the SVGs.
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
    select_campaign,
    snap,
    snapshot_world,
    users_toml,
    write_config,
)

from core import context

sizes = pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)


@pytest.fixture(scope="module")
def snap_world(tmp_path_factory):
    """One read-only world for every snapshot of this module (the screens only read)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "login_name", lambda: LOGIN)
        return snapshot_world(tmp_path_factory.mktemp("snap"))


@pytest.fixture
def world(snap_world, monkeypatch):
    monkeypatch.setattr(context, "login_name", lambda: LOGIN)
    monkeypatch.chdir(snap_world.folder)
    return snap_world


class TestCampaignListSnapshots:
    @sizes
    def test_campaign_list(self, snap_compare, world, size):
        snap(snap_compare, world, size)

    @sizes
    def test_campaign_list_filtered(self, snap_compare, world, size):
        snap(snap_compare, world, size, "slash", "i", "n", "v")


class TestDetailSnapshots:
    @sizes
    def test_new_campaign_form(self, snap_compare, world, size):
        snap(snap_compare, world, size, "n")

    @sizes
    def test_new_broadcast_with_errors(self, snap_compare, world, size):
        snap(snap_compare, world, size, "n", "down", "tab", *"Fermeture", "tab", *"2025-06-31", "tab", *"2025-05-01")

    @sizes
    def test_edit_broadcast(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("broadcast_live"), "e")


class TestTemplateSnapshots:
    @sizes
    def test_invitation_template(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("invitation_draft"), "t", delay=0.35)

    @sizes
    def test_broadcast_template_with_push_counter(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("broadcast_live"), "t", delay=0.35)

    @sizes
    def test_variable_picker(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("invitation_draft"), "t", "tab", "f2", delay=0.35)

    @sizes
    def test_template_refused_with_line_and_variable(self, snap_compare, world, size):
        def typo(app):
            body = app.screen.query_one("#fr-body")
            body.focus()
            body.move_cursor((2, 0))
            body.insert("Bonjour {{ patient.frist_name }}\n")

        snap(snap_compare, world, size, select_campaign("invitation_draft"), "t", typo, "ctrl+s", delay=0.35)


class TestRecipientSnapshots:
    @sizes
    def test_recipients_of_sent_invitation(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("invitation_sent"), "enter")

    @sizes
    def test_recipients_of_live_broadcast(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("broadcast_live"), "enter")

    @sizes
    def test_start_confirmation(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("broadcast_live"), "enter", "s")

    @sizes
    def test_remove_confirmation(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("broadcast_live"), "enter", "down", "x")


class TestAddPatientsSnapshots:
    @sizes
    def test_one_patient(self, snap_compare, world, size):
        snap(snap_compare, world, size, select_campaign("invitation_draft"), "enter", "a", *"trem")

    @sizes
    def test_conditions(self, snap_compare, world, size):
        async def fill(app):
            modal = app.screen
            from textual.widgets import TabbedContent

            modal.query_one(TabbedContent).active = "tab-conditions"

        async def first_row(app):
            row = app.screen.query("ConditionRow").first()
            row.query_one(".cond-field").value = "connected_system"

        async def first_row_op(app):
            row = app.screen.query("ConditionRow").first()
            row.query_one(".cond-op").value = "!="

        async def second_row(app):
            await app.screen.action_add_row()

        async def second_row_values(app):
            row = app.screen.query("ConditionRow").last()
            row.query_one(".cond-field").value = "age"

        async def second_row_value(app):
            row = app.screen.query("ConditionRow").last()
            row.query_one(".cond-op").value = ">="
            row.query_one(".cond-value").value = "18"

        snap(
            snap_compare,
            world,
            size,
            select_campaign("invitation_draft"),
            "enter",
            "a",
            fill,
            first_row,
            first_row_op,
            second_row,
            second_row_values,
            second_row_value,
            delay=0.4,
        )

    @sizes
    def test_csv_report(self, snap_compare, world, size):
        async def csv_tab(app):
            from textual.widgets import TabbedContent

            app.screen.query_one(TabbedContent).active = "tab-csv"

        snap(
            snap_compare,
            world,
            size,
            select_campaign("invitation_draft"),
            "enter",
            "a",
            csv_tab,
            *"exports/rappel.csv",
            "enter",
        )


class TestAuditAndPaletteSnapshots:
    """The audit trail, in a fresh world (the module's has the other screens' reads of
    patient data; its import row names a path fixed for every run: SNAPSHOT_IMPORTS), and
    the command palette (one provider, one order: tui/commands.py), as the French ones."""

    @sizes
    def test_audit_trail(self, snap_compare, tmp_path, monkeypatch, size):
        monkeypatch.setattr(context, "login_name", lambda: LOGIN)
        world = snapshot_world(tmp_path / "w")
        monkeypatch.chdir(world.folder)
        steps, _typed, delay = SCREENS["audit trail"]
        snap(snap_compare, world, size, *steps, delay=delay)

    @sizes
    @pytest.mark.parametrize(
        "name", [pytest.param(n, id=screen_id(n)) for n in ("command palette", "command palette, language")]
    )
    def test_screen(self, snap_compare, world, name, size):
        steps, _typed, delay = SCREENS[name]
        snap(snap_compare, world, size, *steps, delay=delay)


class TestRefusalSnapshots:
    @sizes
    def test_broken_config(self, snap_compare, tmp_path, monkeypatch, size):
        monkeypatch.setattr(context, "login_name", lambda: LOGIN)
        monkeypatch.chdir(tmp_path)
        path = tmp_path / "clinicast.toml"
        path.write_text(
            '[clinic]\nname = "Clinique"\ntimezone = "Mars/Olympus"\ndefault_language = "en"\n[database]\n'
            'url = "mysql://x"\n[gateway]\ntransport = "pigeon"\n',
            encoding="utf-8",
        )
        from tui.app import make_app

        assert snap_compare(
            make_app("clinicast.toml", scheduler=False, blink=False), terminal_size=size, run_before=go()
        )

    @sizes
    def test_database_needs_init(self, snap_compare, tmp_path, monkeypatch, size):
        monkeypatch.setattr(context, "login_name", lambda: LOGIN)
        monkeypatch.chdir(tmp_path)
        write_config(tmp_path)
        (tmp_path / "clinicast.db").touch()  # made, never initialised (a missing one names its path)
        from tui.app import make_app

        app = make_app("clinicast.toml", scheduler=False, blink=False)
        assert snap_compare(app, terminal_size=size, run_before=go())

    @sizes
    def test_no_permission(self, snap_compare, tmp_path, monkeypatch, size):
        monkeypatch.setattr(context, "login_name", lambda: LOGIN)
        monkeypatch.chdir(tmp_path)
        make_world(tmp_path, populate=False)
        write_config(tmp_path, users=users_toml(login="jdoe", name="Jean Doe"), default_language="en")
        from tui.app import make_app

        assert snap_compare(
            make_app("clinicast.toml", scheduler=False, blink=False), terminal_size=size, run_before=go()
        )
