"""Patient trust in the TUI (issue #10): an opt-out recorded from the patient picker, the
audit trail for administrators — driven with the keyboard, checked in the database."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable
from tui_helpers import (
    LOGIN,
    app_for,
    campaign_open,
    copied_world,
    module_world,
    open_add,
    screen_text,
    settle,
    type_into,
    users_toml,
    wait_for,
    write_config,
)

from core.models import AuditLog, Campaign, OptOut, Patient
from tui.screens.audit import AuditScreen
from tui.screens.campaign_list import CampaignListScreen
from tui.screens.modals import ConfirmModal
from tui.screens.opt_out import OptOutModal

pytestmark = pytest.mark.anyio


base_world = module_world("trust", n_patients=40)


world = copied_world


async def test_o_in_the_patient_picker_records_an_opt_out_with_its_note(world):
    cid = world.campaigns.invitation_draft
    target = Patient.select().order_by(Patient.id).first()
    async with campaign_open(world, cid) as (app, pilot):
        await open_add(pilot)
        await type_into(pilot, "#patient-query", target.emr_id)
        await pilot.press("down")
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OptOutModal)
        await pilot.press("ctrl+s")  # no note yet: refused beside the field
        await settle(pilot)
        assert isinstance(app.screen, OptOutModal) and "A note is needed" in screen_text(app)
        app.screen.query_one("#opt-out-note").value = "asked at the desk"
        app.screen.query_one("RadioSet").query("RadioButton")[3].value = True  # everything
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert await wait_for(pilot, lambda: OptOut.select().count() == 1)
        o = OptOut.get()
        assert (o.patient_id, o.channel, o.source, o.note, o.recorded_by) == (
            target.id, "all", "staff", "asked at the desk", LOGIN,
        )  # fmt: skip
        assert AuditLog.select().where(AuditLog.action == "patient_search").exists(), "the search was audited"


async def test_enter_in_the_opt_out_note_records_it(world):
    """Typed into the note then enter, as in every other form: the dialog stayed open and
    nothing was recorded (only ctrl+o did it)."""
    cid = world.campaigns.invitation_sent
    async with campaign_open(world, cid) as (app, pilot):
        await pilot.press("down", "o")
        await settle(pilot)
        assert isinstance(app.screen, OptOutModal)
        await pilot.press("tab", *"accueil", "enter")
        await settle(pilot)
        assert await wait_for(pilot, lambda: OptOut.select().where(OptOut.note == "accueil").count() == 1), screen_text(
            app
        )
        assert not isinstance(app.screen, OptOutModal)


async def test_an_opt_out_already_on_file_is_not_said_recorded(world):
    """The patient calls again: the second opt-out changes nothing, and its notice no longer
    says "Opt-out recorded" over "already opted out"."""
    cid = world.campaigns.invitation_sent
    async with campaign_open(world, cid) as (app, pilot):
        for note in ("phone", "phone again"):
            await pilot.press("o")
            await settle(pilot)
            assert isinstance(app.screen, OptOutModal)
            await pilot.press("tab", *note.replace(" ", ""), "enter")
            await settle(pilot)
            assert await wait_for(pilot, lambda: not isinstance(app.screen, OptOutModal))
        said = [n for n in app._notifications if "opted out" in n.message]
        assert [n.title for n in said] == ["Opt-out recorded", "Already on file"], said
        assert "already opted out" in said[1].message and OptOut.select().count() == 1


async def test_the_audit_trail_for_an_administrator_and_not_for_staff(world, tmp_path):
    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        text = screen_text(app)
        assert "create" in text and "entries" in text
        app.screen.query_one("#audit-user").value = "nobody"
        app.screen.action_refresh()
        await settle(pilot)
        assert "0 entries" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen)

    write_config(world.folder, users=users_toml(permissions=("campaigns",)))
    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen), "staff without admin do not get the audit trail"


async def test_each_audit_row_is_numbered_as_audit_verify_names_it(world):
    """`clinicast audit verify` names a broken row « audit row #6 »: the screen shows each
    row's number in those words, so the row is found (it showed none)."""
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        table = app.screen.query_one("#audit-rows", DataTable)
        ids = [a.id for a in AuditLog.select(AuditLog.id).order_by(AuditLog.at.desc(), AuditLog.id.desc())]
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == [f"#{i}" for i in ids]
        assert table.ordered_columns[0].label.plain == "Row"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_audit_trail_names_each_campaign_as_the_campaign_list_does(world, size):
    """Staff know a campaign by its name (the campaign list shows no id): the audit screen's
    campaign column showed « 3 ». At 80 columns the name takes the room the detail's
    column had (the detail is said whole under the table, with the name)."""
    cid = world.campaigns.invitation_sent
    name = Campaign.get_by_id(cid).name
    app = app_for(world)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        table = app.screen.query_one("#audit-rows", DataTable)
        newest = AuditLog.select().order_by(AuditLog.at.desc(), AuditLog.id.desc()).first()
        assert newest.campaign == cid
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[4] == name and str(cid) not in cells[4], cells
        columns = [c.key.value for c in table.ordered_columns]
        widths = sum(c.get_render_width(table) for c in table.ordered_columns[:5])
        assert widths <= size[0] - 2, "the campaign's column is on the screen"
        assert table.ordered_columns[4].content_width >= 20, "room for a name"
        assert columns == ["row", "at", "user", "action", "campaign", *(["detail"] if size[0] >= 100 else [])]
        under = str(app.screen.query_one("#audit-detail").render())
        assert under.startswith(f"“{name}” · to send: "), under
        import_row = [str(c) for c in table.get_row_at(table.row_count - 1)]
        assert import_row[3] == "import" and import_row[4] == "", "no campaign: an empty cell"
        await pilot.resize_terminal(200 - size[0], 30)  # 80 -> 120, 120 -> 80: laid out again
        await settle(pilot)
        columns = [c.key.value for c in table.ordered_columns]
        assert ("detail" in columns) == (size[0] < 100) and table.row_count == len(table.ordered_rows) > 1


async def test_an_impossible_day_in_the_audit_filter_is_said_under_the_field_by_its_name(world):
    """The date filter's refusal names the field as the staff member sees it (its
    placeholder "since YYYY-MM-DD"), never the command line's --since, and says it under
    the field, not on the bottom line."""
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        field = screen.query_one("#audit-since")
        await pilot.press("slash", *"2026-02-30", "enter")
        await settle(pilot)
        error = screen.query_one("#audit-since-error")
        said = str(error.render())
        assert error.display and said == "“since”: expected a real date YYYY-MM-DD, got “2026-02-30”", said
        assert error.region.y == field.region.bottom  # right under the field
        assert "--since" not in screen_text(app)
        assert app.focused is field
        await pilot.press(*["backspace"] * 10, *"2026-02-28", "enter")
        await settle(pilot)
        assert not error.display and "entries" in screen_text(app)


async def test_o_on_a_recipient_row_and_the_ledger_export(world):
    cid = world.campaigns.invitation_sent
    async with campaign_open(world, cid, size=(120, 40)) as (app, pilot):
        screen = app.screen
        row = screen.selected_row()
        assert row is not None
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, OptOutModal)
        app.screen.query_one("#opt-out-note").value = "by phone"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert await wait_for(pilot, lambda: OptOut.select().count() == 1)
        assert OptOut.get().patient.emr_id == row.emr_id and OptOut.get().channel == "email"
        app.start_folder = str(world.folder)
        await pilot.press("E")
        await settle(pilot)
        assert await wait_for(pilot, lambda: list(world.folder.glob(f"campaign-{cid}-recipients-*.csv")))
        [path] = list(world.folder.glob(f"campaign-{cid}-recipients-*.csv"))
        assert row.emr_id in path.read_text(encoding="utf-8-sig")
        assert AuditLog.select().where(AuditLog.action == "export").exists()


async def test_over_ssh_the_export_gives_the_command_that_brings_the_ledger_home(world, monkeypatch):
    """SPEC §13: files travel through the connection. Over SSH, `E` writes nothing on the
    server: it shows the command for the staff member's own computer (enter closes). It
    offered « Write a copy on the server » (`y`): a file of patients' names left where a
    staff member without a shell can neither fetch nor delete it; no longer offered."""
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.7 52100 192.0.2.10 22")
    cid = world.campaigns.invitation_sent
    async with campaign_open(world, cid, size=(80, 24)) as (app, pilot):
        app.start_folder = str(world.folder)
        await pilot.press("E")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        text = screen_text(app)
        assert f"ssh clinic recipients list {cid} --csv > campaign-{cid}.csv" in text, text
        assert f'cmd /c "ssh clinic recipients list {cid} --csv > campaign-{cid}.csv"' in text, text
        assert f"{LOGIN}@" in text
        await pilot.press("enter")  # Close: the focus is there
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert not list(world.folder.glob("campaign-*.csv")), "nothing written on the server"
        await pilot.press("E")
        await settle(pilot)
        text = screen_text(app)
        assert "Write a copy" not in text and "y " not in text.splitlines()[-1], text
        await pilot.press("y")  # answers nothing
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and not list(world.folder.glob("campaign-*.csv"))
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert not list(world.folder.glob("campaign-*.csv")), "nothing written on the server"
