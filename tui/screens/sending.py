"""Sending control in the TUI (SPEC §11): stop (with a confirmation showing the counts),
re-invite (breakdown, then confirm, like start) and test send — the words, the test-send
dialog, and `SendingControl`, the flows a screen holds one of. Each flow is one
linear worker: ask core (in a thread), confirm, act (in a thread), say what was done —
calling the same core functions as the command line; nothing here reads the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from textual import on
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
from tui.screens.base import AnyScreen
from tui.screens.modals import ConfirmModal

T = TypeVar("T")


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


class CampaignFacts(Protocol):
    """What SendingControl asks the screen showing a campaign."""

    campaign_id: int

    def campaign_kind(self) -> str | None: ...

    def campaign_name(self) -> str: ...

    def test_patient(self) -> tuple[str, int | None]:
        """(EMR id, patient id) the test's patient is preset to ("" and None: none)."""
        ...

    def sending_changed(self) -> None:
        """After a stop or a re-invite: the screen reads its counts again."""

    def unsaved_changes(self) -> bool:
        """A test sends the saved template: an editor with unsaved changes says so first."""
        ...


class SendingControl:
    """Stop, re-invite and test send for a screen showing one campaign: the screen holds
    one (`SendingControl(self, self)`) and its keys call `stop()`, `reinvite()`,
    `test_send()`. The flows run as the screen's workers (one at a time: while one is
    under way the keys do nothing), so a failure shows like any of the screen's."""

    GROUP = "sending-control"

    def __init__(self, screen: AnyScreen, campaign: CampaignFacts) -> None:
        self.screen, self.campaign = screen, campaign

    def _start(self, flow: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if not self.screen.running(self.GROUP):
            self.screen.run_worker(flow(), group=self.GROUP, exclusive=True, exit_on_error=False)

    async def _core(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await asyncio.to_thread(fn, self.screen.app.ctx, *args, **kw)

    def _say(self, message: str, **kw: Any) -> None:
        self.screen.notify(message, markup=False, **kw)

    # stop
    def stop(self) -> None:
        self._start(self._stop_flow)

    async def _stop_flow(self) -> None:
        c = self.campaign
        plan = await self._core(recipients.stop_plan, c.campaign_id)
        if plan.stopped == 0 and plan.in_flight == 0:
            self._say("Nothing to stop: nothing is waiting to be sent.", timeout=5)
            return
        kind = c.campaign_kind() or "invitation"
        message = stop_message(c.campaign_name(), kind, plan)
        if not await self.screen.app.push_screen_wait(ConfirmModal("Stop sending", message, yes="Stop", danger=True)):
            return
        result = await self._core(recipients.stop, c.campaign_id)
        self._say(stopped_message(result), title="Campaign stopped", timeout=8)
        self.screen.app.wake_scheduler()
        c.sending_changed()

    # re-invite
    def reinvite(self) -> None:
        if (self.campaign.campaign_kind() or Kind.INVITATION) != Kind.INVITATION:
            self._say("Only an invitation can be re-invited.", timeout=4)
            return
        self._start(self._reinvite_flow)

    async def _reinvite_flow(self) -> None:
        c = self.campaign
        plan = await self._core(recipients.reinvite_plan, c.campaign_id)
        if plan.will_send == 0:
            self._say(nothing_to_reinvite(plan), timeout=6)
            return
        title = f"Re-invite — {c.campaign_name()}"
        if not await self.screen.app.push_screen_wait(ConfirmModal(title, reinvite_message(plan), yes="Re-invite")):
            return
        done = await self._core(recipients.reinvite, c.campaign_id)
        self._say(f"Re-invited: {fmt.num(done.will_send)} fresh invitations queued", timeout=6)
        self.screen.app.wake_scheduler()
        c.sending_changed()

    # test send
    def test_send(self) -> None:
        self._start(self._test_flow)

    async def _test_flow(self) -> None:
        c, app = self.campaign, self.screen.app
        kind = c.campaign_kind()
        if kind is None:
            return
        if c.unsaved_changes():
            self._say("Save first (ctrl+s): a test sends the saved template.", timeout=5)
            return
        own = testsend.destination(app.ctx, kind)
        emr_id, patient_id = c.test_patient()
        if kind == Kind.BROADCAST:
            testsend.check_destination(app.ctx, kind)  # the command line's refusal, before asking
        answer = await app.push_screen_wait(TestSendModal(kind, emr_id, own))
        if answer is None:
            return
        emr, to = answer
        use_id = patient_id if emr == emr_id and patient_id is not None else None
        t = await self._core(testsend.send_test, c.campaign_id, emr, to, patient_id=use_id)
        what = "Test email" if t.kind == DeliveryKind.TEST_EMAIL else "Test push and feed entry"
        self._say(f"{what} for patient {t.patient} queued to {t.to}", timeout=6)
        app.wake_scheduler()
