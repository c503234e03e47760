"""Sending control in the TUI (SPEC §11): stop (with a confirmation showing the counts),
re-invite (breakdown, then confirm, like start) and test send — the words, the test-send
dialog, and `SendingControl`, the flows a screen holds one of. Each flow is one
linear worker: ask core (in a thread), confirm, act (in a thread), say what was done —
calling the same core functions as the command line; nothing here reads the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from core import recipients, testsend
from core.enums import Kind
from core.errors import ClinicastError, Refused
from core.i18n import N_, _, ngettext, pgettext, quoted
from tui import format as fmt
from tui.screens.base import AnyScreen, ClinicastModal
from tui.screens.modals import ConfirmModal, leave_unless_unsaved
from tui.typeahead import typed_first
from tui.widgets.footer import KeysFooter
from tui.widgets.text_input import TextInput

T = TypeVar("T")


def stop_message(name: str, kind: str, plan) -> str:
    """The confirmation of a stop, with the counts it would have now."""
    n = fmt.num(plan.stopped)
    if kind == Kind.INVITATION:
        # one sentence a message: the dialog wraps it in every language
        cancelled = ngettext(
            "Not sent, cancelled now: {n} email (its patient goes back to “assigned”: a later start sends to them)",
            "Not sent, cancelled now: {n} emails (those patients go back to “assigned”: a later start sends to them)",
            plan.stopped,
        ).format(n=n)
    else:
        cancelled = ngettext(
            "Not sent, cancelled now: {n} push notification (its patient goes back to “assigned”: "
            "a later start sends to them)",
            "Not sent, cancelled now: {n} push notifications (those patients go back to “assigned”: "
            "a later start sends to them)",
            plan.stopped,
        ).format(n=n)
    in_flight = ngettext(
        "Being sent at this moment: {n} (it finishes)", "Being sent at this moment: {n} (they finish)", plan.in_flight
    )
    lines = [
        _("Stop “{name}”?").format(name=name),
        "",
        cancelled,
        in_flight.format(n=fmt.num(plan.in_flight)),
        ngettext("Already sent: {n}", "Already sent: {n}", plan.already_sent).format(n=fmt.num(plan.already_sent)),
    ]
    if plan.feed:  # a broadcast's window not over: what a stop leaves (core.recipients.stop)
        lines += ["", plan.feed]
    return "\n".join(lines)


def to_field() -> str:
    """The test dialog's « To » field as its messages name it (the first word of its label):
    core's words about a test's address name it, where the command line names --to."""
    return quoted(pgettext("test send field", "To"))


class TestSendModal(ClinicastModal[tuple[str, str | None] | None]):
    """The patient a test renders for (EMR id) and, for an invitation, where it goes
    (blank: the staff member's own address). Returns (emr_id, to or None)."""

    __test__ = False  # not a pytest class
    BINDINGS = [
        # the footer showed only esc: enter in a field sends, but nothing said so
        Binding("ctrl+o,ctrl+s", "send", N_("Send"), priority=True, id="test-send.send"),
        Binding("escape", "cancel", N_("Cancel"), key_display="esc", id="test-send.cancel"),
    ]

    def __init__(
        self, kind: str, emr_id: str = "", own: str = "", campaign_id: int | None = None, patient_id: int | None = None
    ) -> None:
        super().__init__()
        self.kind, self.emr_id, self.own = kind, emr_id, own
        self.campaign_id, self.patient_id = campaign_id, patient_id

    def compose(self) -> ComposeResult:
        invitation = self.kind == Kind.INVITATION
        with Vertical(classes="dialog", id="test-send-dialog") as box:
            box.border_title = _("Send me a test")
            yield Label(_("Rendered for the patient (EMR id)"), id="test-emr-label")
            yield TextInput(self.emr_id, placeholder=_("EMR id"), id="test-emr")
            if invitation:
                yield Label(_("To (blank: your own address)"), id="test-to-label")
                yield TextInput(placeholder=self.own or _("name@example.org"), id="test-to")
            yield Static(id="test-error", classes="error", markup=False)  # under the field it is about
            yield Static(self._where(None), classes="hint", markup=False, id="test-where")
            with Horizontal(classes="buttons"):
                yield Button(_("Cancel"), id="no", compact=True)
                yield Button(_("Send"), id="yes", variant="primary", compact=True)
        yield KeysFooter()

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#test-send-dialog").border_title = _("Send me a test")
        self.query_one("#test-emr-label", Label).update(_("Rendered for the patient (EMR id)"))
        self.query_one("#test-emr", Input).placeholder = _("EMR id")
        for label in self.query("#test-to-label").results(Label):
            label.update(_("To (blank: your own address)"))
        for to in self.query("#test-to").results(Input):
            to.placeholder = self.own or _("name@example.org")
        self.query_one("#no", Button).label = _("Cancel")
        self.query_one("#yes", Button).label = _("Send")
        self._prefix(self.query_one("#test-emr", Input).value.strip(), self.patient_id)
        self.query_one("#test-where", Static).update(self._where(None))

    def on_mount(self) -> None:
        self.query_one("#test-emr" if not self.emr_id or self.kind != Kind.INVITATION else "#test-to", Input).focus()
        self._prefix(self.emr_id, self.patient_id)

    def _where(self, prefix: str | None) -> str:
        """Where the test goes and how it is marked: the mark of the patient's language
        (core.testsend.subject_prefix), as it will arrive."""
        mark = prefix or _("[TEST] or [ESSAI], in the patient's language")
        if self.kind == Kind.INVITATION:
            return _("It goes to {where}, its subject starting with {mark}.").format(
                where=self.own or _("the address above"), mark=mark
            )
        return _("A push and a feed entry for an hour, titled {mark} …, go to your app account {own}.").format(
            mark=mark, own=self.own
        )

    @on(Input.Changed, "#test-emr")
    def _emr_changed(self, event: Input.Changed) -> None:
        if self.campaign_id is not None and event.value.strip() != self.emr_id:
            self._prefix(event.value.strip(), None)

    @work(exclusive=True, exit_on_error=False, group="test-prefix")
    async def _prefix(self, emr_id: str, patient_id: int | None) -> None:
        if self.campaign_id is None or not (emr_id or patient_id is not None):
            return
        prefix = await asyncio.to_thread(
            testsend.subject_prefix, self.app.ctx, self.campaign_id, emr_id, patient_id=patient_id
        )
        if self.is_attached:  # answered (dismissed) meanwhile: nothing to say
            self.query_one("#test-where", Static).update(self._where(prefix))

    def changed(self) -> bool:
        to = self.query("#test-to")
        return self.query_one("#test-emr", Input).value.strip() != self.emr_id or bool(
            to and to.first(Input).value.strip()
        )

    def unsaved(self) -> Callable[[], str] | None:
        return (lambda: _("the test")) if self.changed() else None

    def action_cancel(self) -> None:
        leave_unless_unsaved(self, lambda: self.dismiss(None))

    @typed_first
    def action_send(self) -> None:
        self._answer()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._answer()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._answer()
        else:
            self.action_cancel()

    def _answer(self) -> None:
        emr = self.query_one("#test-emr", Input).value.strip()
        if not emr:
            self.query_one("#test-error", Static).update(_("an EMR id is needed"))
            return
        if self.kind != Kind.INVITATION:
            self.dismiss((emr, None))
        elif not self.running("test-check"):
            self._check_to(emr, self.query_one("#test-to", Input).value.strip() or None)

    @work(exclusive=True, exit_on_error=False, group="test-check")
    async def _check_to(self, emr: str, to: str | None) -> None:
        """Where the test would go, checked by core before the dialog closes: a bad address,
        or none at all, is said under the field, which keeps what was typed."""
        try:
            await asyncio.to_thread(testsend.check_destination, self.app.ctx, self.kind, to, field=to_field())
        except ClinicastError as e:
            self.query_one("#test-error", Static).update(str(e))
            self.query_one("#test-to", Input).focus()
            return
        self.dismiss((emr, to))


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
        if plan.nothing_to_stop:  # core's rule and words: a stop now would be refused
            raise Refused(plan.refusal)
        kind = c.campaign_kind() or "invitation"
        name = c.campaign_name()
        confirm = ConfirmModal(
            lambda: _("Stop sending"), lambda: stop_message(name, kind, plan), yes=lambda: _("Stop"), danger=True
        )
        if not await self.screen.app.push_screen_wait(confirm):
            return
        result = await self._core(recipients.stop, c.campaign_id)
        self._say(result.words(), title=_("Campaign stopped"), timeout=8)
        self.screen.app.wake_scheduler()
        c.sending_changed()

    # re-invite
    def reinvite(self) -> None:
        if (self.campaign.campaign_kind() or Kind.INVITATION) != Kind.INVITATION:
            self._say(_("Only an invitation can be re-invited."), timeout=4)
            return
        self._start(self._reinvite_flow)

    async def _reinvite_flow(self) -> None:
        c = self.campaign
        # whether anything sends them: a daemon alive, or this session's embedded scheduler
        sender = self.screen.app.scheduler
        plan = await self._core(recipients.reinvite_plan, c.campaign_id, sender)
        if plan.will_send == 0:  # core's rule and words: a re-invite now would be refused
            raise Refused(recipients.nothing_to_reinvite(c.campaign_id, plan))
        name = c.campaign_name()
        confirm = ConfirmModal(
            lambda: _("Re-invite — {name}").format(name=name),
            lambda: "\n".join(plan.reinvite_lines()),
            yes=lambda: _("Re-invite"),
        )
        if not await self.screen.app.push_screen_wait(confirm):
            return
        done = await self._core(recipients.reinvite, c.campaign_id, sender)
        self._say("\n".join(done.reinvited_lines()), timeout=6)
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
            self._say(_("Save first (ctrl+o): a test sends the saved template."), timeout=5)
            return
        own = testsend.destination(app.ctx, kind)
        emr_id, patient_id = c.test_patient()
        if kind == Kind.BROADCAST:
            testsend.check_destination(app.ctx, kind)  # the command line's refusal, before asking
        answer = await app.push_screen_wait(TestSendModal(kind, emr_id, own, c.campaign_id, patient_id))
        if answer is None:
            return
        emr, to = answer
        use_id = patient_id if emr == emr_id and patient_id is not None else None
        t = await self._core(testsend.send_test, c.campaign_id, emr, to, patient_id=use_id, field=to_field())
        self._say(t.words(), timeout=6)
        app.wake_scheduler()
