"""Sending control in the TUI (SPEC §11), driven with Pilot: stop with a confirmation
showing the counts, test send from the recipient table and the template editor,
re-invite with the breakdown first — each checked on the database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers import status_counts
from tui_helpers import (
    FrozenClock,
    campaign_open,
    copy_world,
    module_world,
    screen_text,
    settle,
    users_toml,
    wait_for,
)

from core import config as cfg
from core import context, recipients
from core.models import AuditLog, Delivery, Invitation, Recipient
from tui.screens.modals import ConfirmModal
from tui.screens.sending import TestSendModal
from tui.screens.template_editor import TemplateEditorScreen

pytestmark = pytest.mark.anyio
STAFF_EMAIL = "mlaval@clinic.example"


base_world = module_world("sending", n_patients=40)


@pytest.fixture
def world(base_world, tmp_path, as_mlaval):
    w = copy_world(base_world, tmp_path / "w")
    w.clock = FrozenClock(base_world.clock.at)  # this test's own: it may move it
    # the staff member's own address and app account, for test sends
    text = w.config_path.read_text(encoding="utf-8").replace(
        users_toml(), users_toml() + f'email = "{STAFF_EMAIL}"\napp_id = "staff-app"\n'
    )
    w.config_path.write_text(text, encoding="utf-8")
    w.ctx = context.for_current_user(cfg.load(w.config_path, env={}), w.clock)
    return w


async def modal(pilot, cls):
    assert await wait_for(pilot, lambda: isinstance(pilot.app.screen, cls)), screen_text(pilot.app)
    await pilot.pause()
    return pilot.app.screen


def counts(cid: int) -> dict[str, int]:
    return status_counts(cid)


class TestStop:
    async def test_the_start_toast_does_not_cover_the_stop_question(self, world):
        """Started, then stopped at once (she saw a mistake): the "Campaign started" toast,
        still up, lay over the stop dialog's last lines (what the stop leaves in the feed);
        a question now clears the toasts before it asks."""
        cid = world.campaigns.broadcast_live
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("s")
            await modal(pilot, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            assert await wait_for(pilot, lambda: bool(list(app._notifications)))  # the start's toast
            await pilot.press("S")
            await modal(pilot, ConfirmModal)
            await settle(pilot)
            assert not list(app._notifications)
            assert "cancels the push notifications only" in screen_text(app)

    async def test_the_confirmation_shows_the_counts_then_stops(self, world):
        cid = world.campaigns.broadcast_live
        recipients.start(world.ctx, cid)  # nothing sends in this world (no scheduler)
        queued = counts(cid).get("queued", 0)
        assert queued > 0
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("S")
            await modal(pilot, ConfirmModal)
            text = screen_text(app)
            assert f"Not sent, cancelled now: {queued} push notifications" in text and "Already sent: 0" in text
            # one sentence, one message to translate, wrapped by the dialog: it was cut in two
            # with a hand-made indent, and French, longer, wrapped its first half once more
            assert "(those patients go back to “assigned”: a later start sends to them)" in text, text
            # what a stop leaves: the feed follows assignment, so the message stays (SPEC §3)
            assert "cancels the push notifications only" in text and "until" in text, text
            await pilot.press("n")
            await settle(pilot)
            assert counts(cid).get("queued") == queued  # cancelled: nothing changed
            await pilot.press("S")
            await modal(pilot, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
            assert counts(cid).get("queued", 0) == 0 and counts(cid)["assigned"] >= queued
            # core's words (StopResult.words), as the command line prints them
            said = f"Stopped: {queued} not sent (back to assigned; a start sends to them), 0 being sent at this moment"
            assert any(n.message.startswith(said) for n in app._notifications)
            assert not Delivery.select().where(Delivery.campaign == cid, Delivery.status == "pending").exists()

    async def test_a_broadcast_stopped_before_its_window_says_the_feed_will_still_show_it(self, world):
        """A receptionist stopped a broadcast whose window opens tomorrow and read « stays in
        the feeds of those it was shown to »: nobody had been shown it, so they believed it
        cancelled — yet every recipient sees it from the window's first day. The words say
        so, with the days and how to keep it from a patient (the command line's too)."""
        from datetime import timedelta

        from core import campaigns, formats

        cid = world.campaigns.broadcast_live
        first, last = world.ctx.today() + timedelta(days=1), world.ctx.today() + timedelta(days=7)
        campaigns.edit(world.ctx, cid, starts_on=first, ends_on=last)
        recipients.start(world.ctx, cid)
        plan = recipients.stop_plan(world.ctx, cid)
        assert formats.day(first) in plan.feed and formats.day(last) in plan.feed, plan.feed
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("S")
            await modal(pilot, ConfirmModal)
            text = screen_text(app)
            assert "still shows in every recipient's feed" in text and formats.day(first) in text, text
            assert "remove them from the campaign" in text and "stays in the feeds of those" not in text
            await pilot.press("y")
            await settle(pilot)
            assert any("still shows in every recipient's feed" in n.message for n in app._notifications)

    async def test_a_stop_that_would_change_nothing_is_refused_and_writes_nothing(self, world):
        """The rule is core's (the command line's too): a draft says so before asking, and a
        stop confirmed after someone else stopped the campaign is refused — it wrote a
        second audit row « stop », as if it had stopped something."""
        draft = world.campaigns.invitation_draft
        async with campaign_open(world, draft) as (app, pilot):
            await pilot.press("S")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmModal)
            # core's words, as the command line says them (it said « Nothing to stop: nothing is waiting »)
            said = f"nothing to stop: campaign {draft} has not been started"
            assert any(n.message == said for n in app._notifications), [n.message for n in app._notifications]
        assert not AuditLog.select().where(AuditLog.action == "stop").exists()

        cid = world.campaigns.broadcast_live
        recipients.start(world.ctx, cid)
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("S")
            await modal(pilot, ConfirmModal)
            recipients.stop(world.ctx, cid)  # another staff member, while this one reads
            await pilot.press("y")
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert any("nothing to stop: no message of campaign" in m for m in said), said
            assert not any("Stopped:" in m for m in said), said
        assert AuditLog.select().where(AuditLog.action == "stop").count() == 1


class TestTestSend:
    async def test_from_the_recipient_table_for_the_selected_patient(self, world):
        cid = world.campaigns.invitation_sent
        before = counts(cid)
        async with campaign_open(world, cid) as (app, pilot):
            screen = app.screen
            row = screen.selected_row()
            await pilot.press("T")
            dialog = await modal(pilot, TestSendModal)
            assert dialog.query_one("#test-emr").value == row.emr_id
            await pilot.press("enter")
            await settle(pilot)
            (d,) = Delivery.select().where(Delivery.kind == "test_email")
            assert (d.target, d.patient.emr_id, d.recipient_id) == (STAFF_EMAIL, row.emr_id, None)
            assert counts(cid) == before
            said = f"queued to {STAFF_EMAIL}; the scheduler sends it within moments"  # as the command line says it
            assert any(said in n.message for n in app._notifications)

    async def test_the_dialog_shows_its_send_key_and_ctrl_o_sends_what_was_typed(self, world):
        """Its footer showed only esc: enter in a field sent, but nothing said so. ctrl+o
        is the forms' key; typed in one burst with the address, it sends to all of it."""
        from textual import events

        cid = world.campaigns.invitation_sent
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("T")
            dialog = await modal(pilot, TestSendModal)
            assert "Send" in [b.binding.description for b in dialog.active_bindings.values()]
            dialog.query_one("#test-to").focus()
            await settle(pilot)
            for ch in "moi@clinique.example":
                app.post_message(events.Key(ch, ch))
            app.post_message(events.Key("ctrl+o", None))
            await settle(pilot)
            (d,) = Delivery.select().where(Delivery.kind == "test_email")
            assert d.target == "moi@clinique.example"

    async def test_no_address_is_said_under_the_to_field_by_its_name(self, base_world, tmp_path, as_mlaval):
        """A staff member without an address of their own: the refusal names the dialog's
        « To » field, not the command line's --to, under the field, the dialog still open
        with what was typed; a bad address is said there too."""
        w = copy_world(base_world, tmp_path / "w")  # no email under [users.mlaval]
        cid = w.campaigns.invitation_sent
        async with campaign_open(w, cid) as (app, pilot):
            await pilot.press("T")
            dialog = await modal(pilot, TestSendModal)
            await pilot.press("ctrl+o")
            await settle(pilot)
            assert app.screen is dialog
            error, field = dialog.query_one("#test-error"), dialog.query_one("#test-to")
            said = str(error.render())
            assert said.startswith("mlaval has no address for test sends") and said.endswith("or give one in “To”"), (
                said
            )
            assert error.region.y == field.region.bottom  # right under the field
            assert app.focused is field
            await pilot.press(*"nope", "ctrl+o")
            await settle(pilot)
            said = str(error.render())
            assert said == "“To”: expected an email address like name@example.org, got “nope”", said
            assert not any("--to" in n.message for n in app._notifications)
            assert not Delivery.select().where(Delivery.kind == "test_email").exists()
            await pilot.press(*["backspace"] * 4, *"moi@clinique.example", "ctrl+o")
            await settle(pilot)
            assert app.screen is not dialog
            (d,) = Delivery.select().where(Delivery.kind == "test_email")
            assert d.target == "moi@clinique.example"

    async def test_from_the_template_editor_for_the_preview_patient(self, world):
        cid = world.campaigns.broadcast_live
        async with campaign_open(world, cid, size=(120, 40)) as (app, pilot):
            await pilot.press("t")
            await settle(pilot, delay=0.3)
            editor = app.screen
            assert isinstance(editor, TemplateEditorScreen) and editor.preview_emr_id
            await pilot.press("f5")
            dialog = await modal(pilot, TestSendModal)
            assert dialog.query_one("#test-emr").value == editor.preview_emr_id
            await pilot.press("enter")
            await settle(pilot)
            (d,) = Delivery.select().where(Delivery.kind == "test_broadcast")
            assert (d.target, d.patient_id) == ("staff-app", editor.patient_id)


class TestReinvite:
    async def test_breakdown_then_confirm(self, world):
        cid = world.campaigns.invitation_sent
        sent = counts(cid)["sent"]  # the demo sent them (to its maildir)
        world.clock.at += timedelta(days=15)
        plan = recipients.reinvite_plan(world.ctx, cid)
        assert plan.will_send == sent
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("i")
            await modal(pilot, ConfirmModal)
            assert f"fresh invitation (new code, 14 days): {plan.will_send}" in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
            assert counts(cid).get("queued") == sent
            # core's words (StartPlan.reinvited_lines), as the command line prints them
            assert any(
                n.message == "\n".join(plan.reinvited_lines()) and n.message.startswith(f"Re-invited: {sent} fresh")
                for n in app._notifications
            )
            assert f"{sent} re-invited" in screen_text(app)  # the funnel counts them
            assert Invitation.select().where(Invitation.reinvited_at.is_null(False)).count() == sent
            await pilot.press("i")  # a second time: nothing
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmModal)
            # core's words, as the command line says them (the TUI had a wording of its own)
            said = recipients.nothing_to_reinvite(cid, recipients.reinvite_plan(world.ctx, cid))
            assert said.startswith(f"nothing to re-invite: no invitation of campaign {cid} expired unanswered")
            assert any(n.message == said for n in app._notifications), [n.message for n in app._notifications]
        assert Recipient.select().where(Recipient.campaign == cid, Recipient.status == "queued").count() == sent


class TestSendingHours:
    async def test_the_start_breakdown_says_when_sending_begins(self, world):
        # the clinic's hours (09:00-20:00, Monday-Saturday) instead of the demo's "any time"
        text = world.config_path.read_text(encoding="utf-8")
        start = text.index("[sending]")
        end = text.index("[users.")
        world.config_path.write_text(
            text[:start] + '[sending]\nhours = "09:00-20:00"\n\n' + text[end:], encoding="utf-8"
        )
        world.clock.at = datetime(2025, 6, 3, 3, 30)  # Monday 23:30 in Montréal
        cid = world.campaigns.broadcast_live
        async with campaign_open(world, cid) as (app, pilot):
            await pilot.press("s")
            await settle(pilot)
            assert "will go out Tuesday Jun 3 at 09:00, when sending hours begin." in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
        due = {d.due_at for d in Delivery.select().where(Delivery.campaign == cid, Delivery.kind == "push")}
        assert due == {datetime(2025, 6, 3, 13, 0)}  # 09:00 EDT
