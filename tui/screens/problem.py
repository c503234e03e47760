"""The full screen shown instead of the app when it cannot be used as it is:
a broken config file, a database that needs `clinicast init`, a user without permission."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, VerticalScroll
from textual.widgets import Static

from core.i18n import N_, _
from tui.screens.base import ClinicastScreen
from tui.widgets.footer import KeysFooter


class ProblemScreen(ClinicastScreen[None]):
    BINDINGS = [
        Binding(
            "r", "retry", N_("Try again"), tooltip=N_("Read the config file and the database again"), id="problem.retry"
        ),
        Binding("escape,q", "app.quit", N_("Quit"), key_display="q", id="problem.quit"),
    ]

    def __init__(self, title: str, message: str, advice: str) -> None:
        super().__init__()
        self.problem_title = title
        self.message = message
        self.advice = advice

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="problem-scroll"):
            with Center():
                with VerticalScroll(id="problem-box") as box:
                    box.border_title = _("clinicast cannot open")
                    yield Static(self.problem_title, id="problem-title", markup=False)
                    yield Static(self.message, id="problem-message", markup=False)
                    yield Static(self.advice, id="problem-advice", markup=False)
        yield KeysFooter()

    def action_retry(self) -> None:
        self.app.retry_open()

    def relabel(self) -> None:
        """The problem is said again in the language now in use (the app opens anew)."""
        super().relabel()
        self.app.retry_open()
