"""Sending control in the TUI (SPEC §11): the words of the stop and re-invite
confirmations, and the test-send dialog. The screens call core's functions
(`recipients.stop_plan/stop`, `recipients.reinvite_plan/reinvite`, `testsend.send_test`);
nothing here reads the database."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from core.reasons import describe

from .. import format as fmt


def stop_message(name: str, kind: str, plan) -> str:
    """The confirmation of a stop, with the counts it would have now."""
    what = "emails" if kind == "invitation" else "push notifications"
    lines = [
        f"Stop “{name}”?",
        "",
        f"Not sent, cancelled now: {fmt.num(plan.stopped)} {what} (those patients go back to",
        "  “assigned”: a later start sends to them)",
        f"Being sent at this moment: {fmt.num(plan.in_flight)} (they finish)",
        f"Already sent: {fmt.num(plan.already_sent)}",
    ]
    if kind == "broadcast":
        lines += ["", "The broadcast stays in the feeds of those it was shown to."]
    return "\n".join(lines)


def stopped_message(result) -> str:
    return (
        f"Stopped: {fmt.num(result.stopped)} not sent, {fmt.num(result.in_flight)} finishing, "
        f"{fmt.num(result.already_sent)} already sent"
    )


def reinvite_message(plan) -> str:
    """The breakdown shown before a re-invite is confirmed (like start's)."""
    lines = [f"Will be sent a fresh invitation (new code, 14 days): {fmt.num(plan.will_send)}"]
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
        invitation = self.kind == "invitation"
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
        self.query_one("#test-emr" if not self.emr_id or self.kind != "invitation" else "#test-to", Input).focus()

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
        to = self.query_one("#test-to", Input).value.strip() if self.kind == "invitation" else ""
        self.dismiss((emr, to or None))
