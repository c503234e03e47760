"""Small modals returning a typed value with dismiss()."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Static

from core.i18n import N_, _
from tui.screens.base import ClinicastModal


class ConfirmModal(ClinicastModal[bool]):
    """Says what will happen and asks yes / no. Enter or y confirms; escape or n cancels.
    `title`, `message`, `yes` and `no` come translated (the buttons: "Yes" / "Cancel")."""

    BINDINGS = [
        Binding("y", "answer(True)", N_("Yes"), id="confirm.yes"),
        Binding("n,escape", "answer(False)", N_("No"), key_display="n/esc", id="confirm.no"),
    ]

    def __init__(
        self, title: str, message: str | Text, yes: str | None = None, no: str | None = None, danger: bool = False
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
                yield Button(self.no or _("Cancel"), id="no", compact=True)
                yield Button(
                    self.yes or _("Yes"), id="yes", variant="error" if self.danger else "primary", compact=True
                )
        yield Footer(compact=True)

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#no", Button).label = self.no or _("Cancel")
        self.query_one("#yes", Button).label = self.yes or _("Yes")

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
