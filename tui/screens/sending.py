"""Sending control in the TUI (SPEC §11): stop (with a confirmation showing the counts),
re-invite (breakdown, then confirm, like start) and test send — the words, the test-send
dialog, and `SendingControl`, the flows a screen gets by inheriting it. Each flow is one
linear worker: ask core (in a thread), confirm, act (in a thread), say what was done —
calling the same core functions as the command line; nothing here reads the database."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from core import recipients, testsend
from core.campaigns.actions import INVITATION_VALID_DAYS
from core.enums import DeliveryKind, Kind
from core.reasons import describe
from tui import format as fmt
from tui.screens.modals import ConfirmModal


def stop_message(name: str, kind: str, plan) -> str:
    """The confirmation of a stop, with the counts it would have now."""
    what = "emails" if kind == Kind.INVITATION else "push notifications"
    lines = [
        f"Stop “{name}”?",
        "",
        f"Not sent, cancelled now: {fmt.num(plan.stopped)} {what} (those patients go back to",
        "  “assigned”: a later start sends to them)",
        f"Being sent at this moment: {fmt.num(plan.in_flight)} (they finish)",
        f"Already sent: {fmt.num(plan.already_sent)}",
    ]
    if kind == Kind.BROADCAST:
        lines += ["", "The broadcast stays in the feeds of those it was shown to."]
    return "\n".join(lines)


def stopped_message(result) -> str:
    return (
        f"Stopped: {fmt.num(result.stopped)} not sent, {fmt.num(result.in_flight)} finishing, "
        f"{fmt.num(result.already_sent)} already sent"
    )


def reinvite_message(plan) -> str:
    """The breakdown shown before a re-invite is confirmed (like start's)."""
    lines = [f"Will be sent a fresh invitation (new code, {INVITATION_VALID_DAYS} days): {fmt.num(plan.will_send)}"]
    lines[0] += f", {plan.sending_begins}" if plan.sending_begins else ", now"
    if plan.skipped:
        lines.append(f"Not re-invited now: {fmt.num(sum(plan.skipped.values()))}")
        for why, n in sorted(plan.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {fmt.num(n):>6}  {describe(why)}")
    lines.append(f"Re-invited before (not sent again): {fmt.num(plan.already_sent)}")
    return "\n".join(lines)


def nothing_to_reinvite(plan) -> str:
    return (
        "Nothing to re-invite: no invitation expired unanswered"
        + (f" that may be sent again ({fmt.num(sum(plan.skipped.values()))} forbidden)" if plan.skipped else "")
        + f"; {fmt.num(plan.already_sent)} re-invited before."
    )


class TestSendModal(ModalScreen[tuple[str, str | None] | None]):
    """The patient a test renders for (EMR id) and, for an invitation, where it goes
    (blank: the staff member's own address). Returns (emr_id, to or None)."""

    __test__ = False  # not a pytest class
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", key_display="esc", id="test-send.cancel")]

    def __init__(self, kind: str, emr_id: str = "", own: str = "") -> None:
        super().__init__()
        self.kind, self.emr_id, self.own = kind, emr_id, own

    def compose(self) -> ComposeResult:
        invitation = self.kind == Kind.INVITATION
        with Vertical(classes="dialog", id="test-send-dialog") as box:
            box.border_title = "Send me a test"
            yield Label("Rendered for the patient (EMR id)")
            yield Input(self.emr_id, placeholder="EMR id", id="test-emr")
            if invitation:
                yield Label("To (blank: your own address)")
                yield Input(placeholder=self.own or "name@example.org", id="test-to")
                where = f"It goes to {self.own or 'the address above'}, its subject starting with [TEST]."
            else:
                where = f"A push and a feed entry for an hour go to your app account {self.own}."
            yield Static(where, classes="hint", markup=False)
            yield Static(id="test-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no", compact=True)
                yield Button("Send", id="yes", variant="primary", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#test-emr" if not self.emr_id or self.kind != Kind.INVITATION else "#test-to", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._answer()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._answer()
        else:
            self.dismiss(None)

    def _answer(self) -> None:
        emr = self.query_one("#test-emr", Input).value.strip()
        if not emr:
            self.query_one("#test-error", Static).update("an EMR id is needed")
            return
        to = self.query_one("#test-to", Input).value.strip() if self.kind == Kind.INVITATION else ""
        self.dismiss((emr, to or None))


class SendingControl:
    """Stop, re-invite and test send for a screen showing one campaign. The screen has
    `campaign_id`, `campaign_kind()`, `campaign_name()`, and may override
    `test_patient()` -> (emr_id, patient_id) to preset the test's patient."""

    campaign_id: int

    def campaign_kind(self) -> str | None:  # pragma: no cover - every screen says
        raise NotImplementedError

    def campaign_name(self) -> str:
        return f"campaign #{self.campaign_id}"

    def test_patient(self) -> tuple[str, int | None]:
        return "", None

    def sending_changed(self) -> None:
        """After a stop or a re-invite: the screen reads its counts again."""

    def unsaved_changes(self) -> bool:
        """A test sends the saved template: an editor with unsaved changes says so first."""
        return False

    async def _core(self, fn, *args, **kw):
        return await asyncio.to_thread(fn, self.app.ctx, *args, **kw)

    # stop
    def _busy(self) -> bool:
        """A sending-control flow started here is not over yet: its key does nothing."""
        return self.running("sending-control")  # type: ignore[attr-defined]  # WorkerErrors

    def action_stop_sending(self) -> None:
        if not self._busy():
            self._stop_flow()

    @work(exclusive=True, exit_on_error=False, group="sending-control")
    async def _stop_flow(self) -> None:
        plan = await self._core(recipients.stop_plan, self.campaign_id)
        if plan.stopped == 0 and plan.in_flight == 0:
            self.notify("Nothing to stop: nothing is waiting to be sent.", markup=False, timeout=5)
            return
        kind = self.campaign_kind() or "invitation"
        message = stop_message(self.campaign_name(), kind, plan)
        if not await self.app.push_screen_wait(ConfirmModal("Stop sending", message, yes="Stop", danger=True)):
            return
        result = await self._core(recipients.stop, self.campaign_id)
        self.notify(stopped_message(result), title="Campaign stopped", markup=False, timeout=8)
        self.app.wake_scheduler()
        self.sending_changed()

    # re-invite
    def action_reinvite(self) -> None:
        if (self.campaign_kind() or Kind.INVITATION) != Kind.INVITATION:
            self.notify("Only an invitation can be re-invited.", markup=False, timeout=4)
            return
        if not self._busy():
            self._reinvite_flow()

    @work(exclusive=True, exit_on_error=False, group="sending-control")
    async def _reinvite_flow(self) -> None:
        plan = await self._core(recipients.reinvite_plan, self.campaign_id)
        if plan.will_send == 0:
            self.notify(nothing_to_reinvite(plan), markup=False, timeout=6)
            return
        title = f"Re-invite — {self.campaign_name()}"
        if not await self.app.push_screen_wait(ConfirmModal(title, reinvite_message(plan), yes="Re-invite")):
            return
        done = await self._core(recipients.reinvite, self.campaign_id)
        self.notify(f"Re-invited: {fmt.num(done.will_send)} fresh invitations queued", markup=False, timeout=6)
        self.app.wake_scheduler()
        self.sending_changed()

    # test send
    def action_test_send(self) -> None:
        if not self._busy():
            self._test_flow()

    @work(exclusive=True, exit_on_error=False, group="sending-control")
    async def _test_flow(self) -> None:
        kind = self.campaign_kind()
        if kind is None:
            return
        if self.unsaved_changes():
            self.notify("Save first (ctrl+s): a test sends the saved template.", markup=False, timeout=5)
            return
        own = testsend.destination(self.app.ctx, kind)
        emr_id, patient_id = self.test_patient()
        if kind == Kind.BROADCAST:
            testsend.check_destination(self.app.ctx, kind)  # the command line's refusal, before asking
        answer = await self.app.push_screen_wait(TestSendModal(kind, emr_id, own))
        if answer is None:
            return
        emr, to = answer
        use_id = patient_id if emr == emr_id and patient_id is not None else None
        t = await self._core(testsend.send_test, self.campaign_id, emr, to, patient_id=use_id)
        what = "Test email" if t.kind == DeliveryKind.TEST_EMAIL else "Test push and feed entry"
        self.notify(f"{what} for patient {t.patient} queued to {t.to}", markup=False, timeout=6)
        self.app.wake_scheduler()
