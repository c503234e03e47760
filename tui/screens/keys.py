"""`?` or f1: every key of the screen below, hidden ones too (the footer keeps room for
the common ones at 80 columns; this lists all), with what each does and its id for the
config's `[keys]`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from core.i18n import _
from tui import keys


class KeysScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,f1", "dismiss(None)", "Close", key_display="esc", id="keys.close"),
    ]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="keys-dialog") as box:
            box.border_title = _("Keys · {screen}").format(screen=self.below.title or self.app.title)
            yield DataTable(id="keys-table", cursor_type="row", zebra_stripes=True, show_header=False)
            yield Static(
                _('Rebind any of them in the config: [keys] "id" = "key". ctrl+p: every command.'),
                classes="hint",
                markup=False,
            )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        width = self.app.size.width
        table.add_column("key", width=14)
        table.add_column("what", width=max(20, min(width, 100) - 14 - 24 - 10))
        table.add_column("id", width=22)
        bindings = self.below.active_bindings.values()
        for key, what, binding_id in keys.rows(
            ((b, enabled, tip) for _node, b, enabled, tip in bindings), self.app.get_key_display
        ):
            table.add_row(key, what, binding_id)
        table.focus()
