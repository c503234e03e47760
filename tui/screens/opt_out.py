"""Recording an opt-out a patient asked for (SPEC §10): a modal asking the channel and a
note, and `OptOutFlow`, which a screen or widget holds to ask, record it in a thread
(core.optouts.ledger.record: the same function as `clinicast patients opt-out`) and say what
was done."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from core.enums import OptOutChannel
from core.errors import ClinicastError
from core.i18n import N_, _, clauses
from core.words import word
from tui import format as fmt
from tui import workers
from tui.app import ClinicastApp
from tui.screens.base import ClinicastModal
from tui.screens.modals import leave_unless_unsaved
from tui.typeahead import typed_first
from tui.widgets.footer import KeysFooter
from tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from core.optouts.history import OptOutRow
    from core.optouts.ledger import Recorded

_CHANNELS = (
    (OptOutChannel.EMAIL, N_("email (invitations)")),
    (OptOutChannel.FEED, N_("the app's messages (feed)")),
    (OptOutChannel.PUSH, N_("push notifications")),
    (OptOutChannel.ALL, N_("everything")),
)


class OptOutModal(ClinicastModal[tuple[str, str] | None]):
    """Which channel, and why: returns (channel, note), or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+o,ctrl+s", "record", N_("Record"), priority=True, id="opt-out.record"),
        Binding("escape", "cancel", N_("Cancel"), key_display="esc", id="opt-out.cancel"),
    ]

    def __init__(self, emr_id: str, name: str) -> None:
        super().__init__()
        self.emr_id, self.patient_name = emr_id, name
        self.active: list[OptOutRow] | None = None  # the opt-outs in force, once read

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="opt-out-dialog") as box:
            box.border_title = self._title()
            # what is out already, first: a phone opt-out recorded for a channel the patient
            # left months ago, or for the email when « everything » is on file, is seen here
            yield Static("", id="opt-out-active")
            yield Static(_("What does the patient no longer want?"), classes="hint", id="opt-out-question")
            with RadioSet(id="opt-out-channel"):
                for i, (channel, label) in enumerate(_CHANNELS):
                    yield RadioButton(_(label), value=i == 0, name=channel.value)
            yield TextInput(placeholder=_("note: how they asked (by phone, at the desk…)"), id="opt-out-note")
            yield Static("", classes="error", id="opt-out-error")
            with Horizontal(classes="buttons"):
                yield Button(_("Cancel"), id="cancel", compact=True)
                yield Button(_("Record"), id="record", variant="primary", compact=True)
        yield KeysFooter()

    def _title(self) -> str:
        return _("Opt-out · {name} · {emr_id}").format(name=self.patient_name, emr_id=self.emr_id)

    def relabel(self) -> None:
        """The dialog's words again in the language now in use (the palette's switch)."""
        super().relabel()
        self.query_one("#opt-out-dialog").border_title = self._title()
        self.query_one("#opt-out-question", Static).update(_("What does the patient no longer want?"))
        self._show_active()
        for button, (_channel, label) in zip(self.query(RadioButton), _CHANNELS, strict=False):
            button.label = _(label)
        self.query_one("#opt-out-note", Input).placeholder = _("note: how they asked (by phone, at the desk…)")
        self.query_one("#cancel", Button).label = _("Cancel")
        self.query_one("#record", Button).label = _("Record")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()
        self._load_active()

    @work(exclusive=True, exit_on_error=False, group="opt-out-active")
    async def _load_active(self) -> None:
        from core.optouts import history

        self.active = await asyncio.to_thread(history.active, self.app.ctx, self.emr_id)
        self._show_active()

    def _show_active(self) -> None:
        """The patient's opt-outs in force, each with its moment, source and who, or that
        there are none (a receptionist can tell the list was read)."""
        shown = self.query_one("#opt-out-active", Static)
        if self.active is None:
            return
        if not self.active:
            shown.update(Text(_("Active opt-outs: none"), style="dim"))
            return
        tz = self.app.ctx.config.clinic.tz
        # one line each (at most one in force a channel: four lines, the dialog still fits 24
        # rows); a long note is cut here, whole in the recipient's detail and `patients show`
        channels = [word("channel", o.channel) for o in self.active]
        rows = Table.grid(padding=(0, 1))
        rows.add_column(style="yellow", no_wrap=True, min_width=max(map(cell_len, channels)))  # never cut
        rows.add_column()  # shrinks to the room left; each line ends in « … » (its Text)
        for o, channel in zip(self.active, channels, strict=True):
            by = o.origin()
            text = Text(
                fmt.unbroken(fmt.short_when(o.at, tz)) + " · " + fmt.unbroken(by), no_wrap=True, overflow="ellipsis"
            )
            if o.note:
                text.append(f" — {o.note}", style="dim")  # as `patients show` writes it
            rows.add_row(channel, text)
        shown.update(Group(Text(_("Active opt-outs:"), style="bold"), rows))

    def changed(self) -> bool:
        return bool(self.query_one("#opt-out-note", Input).value.strip())

    def unsaved(self) -> Callable[[], str] | None:
        return (lambda: _("the opt-out")) if self.changed() else None

    def action_cancel(self) -> None:
        leave_unless_unsaved(self, lambda: self.dismiss(None))

    def _channel(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else OptOutChannel.EMAIL.value

    @typed_first
    def action_record(self) -> None:
        note = self.query_one("#opt-out-note", Input).value.strip()
        if not note:
            self.query_one("#opt-out-error", Static).update(_("A note is needed: how did the patient ask?"))
            self.query_one("#opt-out-note", Input).focus()
            return
        self.dismiss((self._channel(), note))

    @on(Input.Submitted, "#opt-out-note")
    def _submitted(self) -> None:
        self.action_record()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "record":
            self.action_record()
        else:
            self.action_cancel()


class OptOutFlow:
    """Recording an opt-out from what shows patients: the node holds one
    (`OptOutFlow(self, recorded=…)`) and its key calls `ask(emr_id, name)`, which asks,
    records (in a thread: the same core function as `clinicast patients opt-out`) and
    says what was done; `recorded(done)` then refreshes the node."""

    GROUP = "opt-out"

    def __init__(self, node: Widget, recorded: Callable[[Recorded], None] | None = None) -> None:
        self.node, self.recorded = node, recorded

    def running(self) -> bool:
        return workers.running(self.node, self.GROUP)

    def ask(self, emr_id: str, name: str) -> None:
        def answered(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self.node.run_worker(
                    self._record(emr_id, *answer), group=self.GROUP, exclusive=True, exit_on_error=False
                )

        self.node.app.push_screen(OptOutModal(emr_id, name), answered)

    async def _record(self, emr_id: str, channel: str, note: str) -> None:
        from core.optouts import ledger

        app = self.node.app
        assert isinstance(app, ClinicastApp)
        try:
            done = await asyncio.to_thread(ledger.record, app.ctx, emr_id, channel, note)
        except ClinicastError as e:
            workers.show_error(self.node, e)  # once, as every refusal (not again by the refresh after)
            return
        what = clauses(done.lines())
        # one already on file changes nothing: its notice's title says so, as its words do
        app.notify(what, title=_("Opt-out recorded") if done.new else _("Already on file"), markup=False)
        if self.recorded is not None:
            self.recorded(done)
