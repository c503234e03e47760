"""Recording an opt-out a patient asked for (SPEC §10): a modal asking the channel and a
note, and `OptOutFlow`, the mixin a screen or widget uses to ask, record it in a thread
(core.optouts.ledger.record: the same function as `clinicast patients opt-out`) and say what
was done."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, RadioButton, RadioSet, Static

from core.enums import OptOutChannel
from core.errors import ClinicastError

_CHANNELS = (
    (OptOutChannel.EMAIL, "email (invitations)"),
    (OptOutChannel.FEED, "the app's messages (feed)"),
    (OptOutChannel.PUSH, "push notifications"),
    (OptOutChannel.ALL, "everything"),
)


class OptOutModal(ModalScreen[tuple[str, str] | None]):
    """Which channel, and why: returns (channel, note), or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "record", "Record", priority=True, id="opt-out.record"),
        Binding("escape", "dismiss(None)", "Cancel", key_display="esc", id="opt-out.cancel"),
    ]

    def __init__(self, emr_id: str, name: str) -> None:
        super().__init__()
        self.emr_id, self.patient_name = emr_id, name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="opt-out-dialog") as box:
            box.border_title = f"Opt-out · {self.patient_name} · {self.emr_id}"
            yield Static("What does the patient no longer want?", classes="hint")
            with RadioSet(id="opt-out-channel"):
                for i, (channel, label) in enumerate(_CHANNELS):
                    yield RadioButton(label, value=i == 0, name=channel.value)
            yield Input(placeholder="note: how they asked (by phone, at the desk…)", id="opt-out-note")
            yield Static("", classes="error", id="opt-out-error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Record", id="record", variant="primary", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def _channel(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else OptOutChannel.EMAIL.value

    def action_record(self) -> None:
        note = self.query_one("#opt-out-note", Input).value.strip()
        if not note:
            self.query_one("#opt-out-error", Static).update("A note is needed: how did the patient ask?")
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
            self.dismiss(None)


class OptOutFlow:
    """Mixin for what shows patients: `ask_opt_out(emr_id, name)` asks, records (in a
    thread: the same core function as `clinicast patients opt-out`) and says what was
    done; override `opt_out_recorded(done)` to refresh after it."""

    def ask_opt_out(self, emr_id: str, name: str) -> None:
        def answered(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self._record_opt_out(emr_id, *answer)

        self.app.push_screen(OptOutModal(emr_id, name), answered)

    @work(exclusive=True, exit_on_error=False, group="opt-out")
    async def _record_opt_out(self, emr_id: str, channel: str, note: str) -> None:
        from core.optouts import ledger

        try:
            done = await asyncio.to_thread(ledger.record, self.app.ctx, emr_id, channel, note)
        except ClinicastError as e:
            self.app.notify(str(e), title="Not done", severity="error", markup=False, timeout=8)
            return
        what = "; ".join(done.lines())
        self.app.notify(what, title="Opt-out recorded", markup=False)
        self.opt_out_recorded(done)

    def opt_out_recorded(self, done) -> None:
        pass
