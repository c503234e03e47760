"""Small modals returning a typed value with dismiss()."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from core.i18n import _


class ConfirmModal(ModalScreen[bool]):
    """Says what will happen and asks yes / no. Enter or y confirms; escape or n cancels."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", key_display="n/esc", id="confirm.no"),
    ]

    def __init__(
        self, title: str, message: str | Text, yes: str = "Yes", no: str = "Cancel", danger: bool = False
    ) -> None:
        super().__init__()
        self.dialog_title = title
        self.message = message
        self.yes, self.no, self.danger = yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger" if self.danger else "dialog") as box:
            box.border_title = self.dialog_title
            yield Static(self.message, classes="message", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.no, id="no", compact=True)
                yield Button(self.yes, id="yes", variant="error" if self.danger else "primary", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def leave_unless_unsaved(screen, changed: bool, leave: Callable[[], object], what: str) -> None:
    """Escape on a form: `leave()` at once when nothing was changed, else ask first —
    staff never lose an edit without a word. `what` names the form ("the template")."""
    if not changed:
        leave()
        return
    if any(w.group == "leave" and w.node is screen and not w.is_finished for w in screen.app.workers):
        return  # already asking

    async def ask() -> None:
        message = _("Leave {what} without saving? Your changes will be lost.").format(what=what)
        confirm = ConfirmModal(_("Unsaved changes"), message, yes=_("Discard"), no=_("Keep editing"), danger=True)
        if await screen.app.push_screen_wait(confirm):
            leave()

    screen.run_worker(ask(), exclusive=True, group="leave", exit_on_error=False)
