"""The conditions builder and a value no patient has (a receptionist's typo, « Dr Gagnin »
for « Dr Jean-François Gagnon »): core's warning under the row, the practitioners
offered (↓ lists them, typing completes), ^o says why nothing was added, and `!=` with
such a value asks before adding (it selects nearly everyone)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from textual.widgets import Input, OptionList
from tui_helpers import campaign_open, copied_world, module_world, open_add, screen_text, settle

from core import conditions, i18n, recipients
from core.audit import read as audit_read
from core.audit.words import describe
from core.models import Patient, Recipient
from tui.screens.modals import ConfirmModal
from tui.screens.recipients import RecipientsScreen

pytestmark = pytest.mark.anyio

base_world = module_world("condition_values", n_patients=60)
world = copied_world

UTC = ZoneInfo("UTC")
MEANT = "Dr Jean-François Gagnon"
WARNING = f"Practitioner “Dr Gagnin”: no patient has this value; did you mean “{MEANT}”?"


def recipients_of(cid: int) -> int:
    return Recipient.select().where(Recipient.campaign == cid).count()


async def practitioner_row(pilot, modal, op: str, value: str):
    """The first row on the practitioner, `op`, `value` typed; counted."""
    row = modal.query("ConditionRow").first()
    row.query_one(".cond-field").value = "practitioner"
    await settle(pilot, 0.4)
    row.query_one(".cond-op").value = op
    await settle(pilot, 0.4)
    row.query_one(".cond-value").focus()
    row.query_one(".cond-value", Input).value = value
    await settle(pilot, 0.4)
    return row


def row_says(row) -> tuple[str, bool]:
    label = row.query_one(".cond-error")
    return (str(label.render()), label.has_class("warning")) if label.display else ("", False)


async def test_a_typo_is_said_at_its_row_and_ctrl_o_says_why_nothing_is_added(world):
    cid = world.campaigns.invitation_draft
    assert Patient.select().where(Patient.practitioner == MEANT).exists()
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-conditions")
        row = await practitioner_row(pilot, modal, "=", "Dr Gagnin")
        assert row_says(row) == (WARNING, True)
        assert modal.match_count == 0
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert app.screen is modal and recipients_of(cid) == 0
        assert "Nothing was added: no patient matches these conditions." in screen_text(app)
        # corrected: the warning and the message go
        row.query_one(".cond-value", Input).value = MEANT
        await settle(pilot, 0.4)
        assert row_says(row) == ("", False) and modal.match_count
        assert "Nothing was added" not in screen_text(app)


async def test_is_not_with_a_typo_asks_first_naming_the_value_and_the_count(world):
    cid = world.campaigns.invitation_draft
    typo = [conditions.make("practitioner", "!=", "Dr Gagnin")]
    preview = recipients.preview_conditions(world.ctx, cid, typo)
    assert preview.matched == Patient.select().count() and preview.added > 0
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-conditions")
        row = await practitioner_row(pilot, modal, "!=", "Dr Gagnin")
        assert row_says(row) == (WARNING, True)
        await pilot.press("ctrl+o")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmModal)
        said = screen_text(app)
        assert WARNING in said and preview.line() in said
        assert f"Add these {preview.added} patients anyway?" in said
        await pilot.press("enter")  # the focus is on « Correct it »: nothing added
        await settle(pilot)
        assert app.screen is modal and recipients_of(cid) == 0
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, RecipientsScreen)
        assert recipients_of(cid) == preview.matched - preview.already_assigned
    # the trail says the warning was seen and confirmed, in the assign's own row
    [assign] = [r for r in audit_read.read(world.ctx) if r.action == "assign" and r.campaign_id == cid]
    assert assign.detail["unknown_values_confirmed"] == ["practitioner != Dr Gagnin"], assign.detail
    assert "confirmed though no patient has the value: Practitioner != Dr Gagnin" in describe(assign.detail, UTC)


async def test_down_lists_the_practitioners_the_value_meant_first(world):
    from tui.screens.pickers import ValuePicker

    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-conditions")
        row = await practitioner_row(pilot, modal, "=", "Dr Gagnin")
        await pilot.press("down")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, ValuePicker)
        options = picker.query_one(OptionList)
        shown = [str(o.prompt) for o in options.options]
        assert shown == conditions.existing(world.ctx, "practitioner") and len(shown) > 3
        assert shown[options.highlighted or 0] == MEANT  # the suggestion, ready for enter
        await pilot.press(*"côté")  # typing narrows, accents and case aside
        await settle(pilot)
        assert [str(o.prompt) for o in options.options] == ["Dre Émilie Côté"]
        await pilot.press("backspace", "backspace", "backspace", "backspace", *"gagnon")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 0.4)
        assert app.screen is modal
        assert row.query_one(".cond-value", Input).value == MEANT and app.focused is row.query_one(".cond-value")
        assert row_says(row) == ("", False) and modal.match_count


async def test_typing_completes_a_practitioner(world):
    async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
        modal = await open_add(pilot, "tab-conditions")
        row = await practitioner_row(pilot, modal, "=", "")
        value = row.query_one(".cond-value", Input)
        await pilot.press(*"dr jea")
        await settle(pilot, 0.4)
        assert value._suggestion == MEANT
        await pilot.press("right")  # takes it, as patients have it
        await settle(pilot, 0.4)
        assert value.value == MEANT and row_says(row) == ("", False)


async def test_in_french_at_80_columns(world):
    """What the reviewer saw: the warning in the staff's words, whole, under the row."""
    async with campaign_open(world, world.campaigns.invitation_draft, size=(80, 24)) as (app, pilot):
        app.switch_language("fr")
        await settle(pilot)
        try:
            modal = await open_add(pilot, "tab-conditions")
            row = await practitioner_row(pilot, modal, "!=", "Dr Gagnin")
            said, warning = row_says(row)
            assert warning and said == (
                "Médecin «\u00a0Dr Gagnin\u00a0»\u00a0: aucun patient n'a cette valeur\u202f; "
                f"vouliez-vous dire «\u00a0{MEANT}\u00a0»\u202f?"
            )
            label = row.query_one(".cond-error")
            assert label.region.height == 2 and label.region in app.screen.region  # wrapped, not cut
            await pilot.press("ctrl+o")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmModal)
            assert "Ajouter ces" in screen_text(app) and "quand même" in screen_text(app)
        finally:
            i18n.use("en")
