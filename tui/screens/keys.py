"""`?` or f1: every key of the screen below, hidden ones too (the footer keeps room for
the common ones at 80 columns; this lists all), with what each does and its id for the
config's `[keys]`."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from core.i18n import N_, _
from tui import keys
from tui.screens.base import ClinicastModal, ClinicastScreen, translated_bindings
from tui.widgets.footer import KeysFooter, ranked


class KeysScreen(ClinicastModal[None]):
    BINDINGS = [
        Binding("escape,question_mark,f1", "dismiss(None)", N_("Close"), key_display="esc", id="keys.close"),
    ]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="keys-dialog") as box:
            box.border_title = _("Keys · {screen}").format(screen=self.below.title or self.app.title)
            with VerticalScroll(id="keys-scroll"):
                yield Static(self._table(), id="keys-table")
            yield Static(
                _('Rebind any of them in the config: [keys] "id" = "key". ctrl+p: every command.'),
                classes="hint",
                markup=False,
            )
        yield KeysFooter()

    def _table(self) -> Table:
        # clinicast's own keys first (they have an id), in the footer's order (so the ones
        # it left out come after those it shows), then moving around the focused widget
        active = self.below.active_bindings
        if not isinstance(self.below, ClinicastScreen):  # its descriptions are still the msgids
            active = translated_bindings(active)
        bindings = sorted(ranked(self.below, list(active.values()), lambda a: a[1]), key=lambda a: 0 if a[1].id else 1)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold #ffa62b", no_wrap=True)
        table.add_column(overflow="fold", ratio=1)
        table.add_column(style="dim", no_wrap=True)
        ours = keys.binding_ids()  # what [keys] can rebind; Textual's own ids are not shown
        for key, what, binding_id in keys.rows(((b, on, tip) for _n, b, on, tip in bindings), self.app.get_key_display):
            table.add_row(key, Text(what), binding_id if binding_id in ours else "")
        return table

    def on_mount(self) -> None:
        self.query_one("#keys-scroll").focus()

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#keys-dialog").border_title = _("Keys · {screen}").format(
            screen=self.below.title or self.app.title
        )
        self.query_one("#keys-table", Static).update(self._table())
        self.query_one("#keys-dialog .hint", Static).update(
            _('Rebind any of them in the config: [keys] "id" = "key". ctrl+p: every command.')
        )
