"""The recipients of one campaign as a table, paged from the database.

`DataTable` keeps every row and measures each cell on the event loop, so rows come in
pages of PAGE (keyset pagination on the recipient id): the next page is read when the
cursor nears the end of what is loaded. The screen says which search to show (`load`),
asks for the rows on screen again when counts move (`reload_shown`) and reads the
selected row (`selected_row`); after every change the table posts `Shown`.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import getters, on, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.worker import Worker

from core import recipients
from core.enums import RecipientStatus
from core.i18n import N_, _, pgettext
from core.words import word
from tui import format as fmt
from tui import workers
from tui.app import ClinicastApp

PAGE = 100  # rows read at a time: a few screens, measured cheaply (DataTable sizes every cell)
NEAR_END = 25  # read the next page when the cursor is this close to the last loaded row
WIDE = 100  # from this width on, a "Sent at" column


class RecipientTable(DataTable):
    # DataTable's own `enter` (select the row) is hidden from the footer and, being the
    # focused widget's, hid the screen's "Detail": the same key, shown, under the screen's
    # id (a `[keys]` rebinding moves both). Selecting the row opens the detail.
    BINDINGS = [
        Binding(
            "enter",
            "select_cursor",
            N_("Detail"),
            tooltip=N_("Everything about the selected recipient"),
            id="recipients.detail",
        )
    ]

    class Shown(Message):
        """The rows on screen changed (loaded, refreshed, searched)."""

    app = getters.app(ClinicastApp)

    def __init__(self, campaign_id: int, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.campaign_id = campaign_id
        self.search = ""
        self.loaded: dict[int, recipients.RecipientRow] = {}
        self.order: list[int] = []
        self.more = False
        self._wide: bool | None = None
        self._width = 0

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        workers.report_failure(self, event)

    # --- columns -------------------------------------------------------------------

    def fit(self, width: int, *, again: bool = False) -> None:
        """Columns for a screen `width` wide; the rows again when the layout changes (or
        `again`: the language changed). Wide: a "Sent at" column. Narrow (80 columns): the
        sending time goes in the status."""
        self._width = width
        if self._wide == (width >= WIDE) and not again:
            return
        first = self._wide is None
        self._wide = width >= WIDE
        self.clear(columns=True)
        name_w = 26 if self._wide else 18
        # wide: room for a day of another year ("Dec 31, 2025", « 31 déc. 2025 ») and its time
        added_w, sent_w = (12, 18) if self._wide else (10, 0)
        fixed = 8 + name_w + added_w + sent_w
        ncols = 5 if self._wide else 4
        self.add_column(pgettext("short column", "EMR id"), width=8, key="emr")  # 8 wide: « Dossier »
        self.add_column(_("Name"), width=name_w, key="name")
        self.add_column(_("Added"), width=added_w, key="added")
        if self._wide:
            self.add_column(_("Sent at"), width=sent_w, key="sent")
        self.add_column(_("Status"), width=max(14, width - fixed - 2 * ncols - 3), key="status")
        if not first:
            self._fill(list(self.loaded.values()), replace=True)

    def relabel(self) -> None:
        """Headers and cells again, in the language now in use."""
        self.fit(self._width, again=True)

    def _keys(self) -> tuple[str, ...]:
        return ("emr", "name", "added", "sent", "status") if self._wide else ("emr", "name", "added", "status")

    def _cells(self, r: recipients.RecipientRow) -> list:
        tz = self.app.ctx.config.clinic.tz
        shown = r.shown_status
        status = Text(word("recipient", shown), style=fmt.CELL_STYLE.get(shown, ""), no_wrap=True, overflow="ellipsis")
        if r.status == RecipientStatus.RETRYING and r.next_attempt_at:
            status.append(" · " + _("next {when}").format(when=fmt.time(r.next_attempt_at, tz)), style="yellow")
        if r.shown_reason_code:  # why they will not receive it, or why they did not
            status.append(
                f" · {r.reason(when=lambda t: fmt.short_when(t, tz))}", style="dim"
            )  # maybe twice: both times
        sent = fmt.short_when(r.sent_at, tz)
        name = Text(r.name, no_wrap=True, overflow="ellipsis")
        if self._wide:
            return [r.emr_id, name, fmt.short_day(r.added_at, tz), sent, status]
        if sent:
            status.append(f" {sent}", style="dim")
        return [r.emr_id, name, fmt.short_day(r.added_at, tz), status]

    # --- reading -------------------------------------------------------------------

    def _read(self, **how) -> list[recipients.RecipientRow]:
        """One page (runs in a thread)."""
        return recipients.page(self.app.ctx, self.campaign_id, search=self.search, **how)

    @work(exclusive=True, exit_on_error=False, group="page")
    async def load(self, search: str) -> None:
        """The first page of `search` ("" for all), replacing what is shown."""
        self.search = search
        rows = await asyncio.to_thread(self._read, limit=PAGE)
        self.loading = False
        self._fill(rows, replace=True)

    @work(exclusive=True, exit_on_error=False, group="page")
    async def _next_page(self, after_id: int) -> None:
        rows = await asyncio.to_thread(self._read, after_id=after_id, limit=PAGE)
        self._fill(rows, replace=False)

    @work(exclusive=True, exit_on_error=False, group="page")
    async def reload_shown(self) -> None:
        """The rows already on screen, read again (statuses change while sending)."""
        rows = await asyncio.to_thread(self._read, limit=max(len(self.order), PAGE))
        shown = len(self.order)
        if [r.id for r in rows[:shown]] != self.order:
            self._fill(rows, replace=True)
            return
        for r in rows[:shown]:
            if self.loaded[r.id] != r:
                self.loaded[r.id] = r
                for key, value in zip(self._keys(), self._cells(r), strict=False):
                    self.update_cell(str(r.id), key, value)
        if len(rows) > shown:
            self._fill(rows[shown:], replace=False)
        self.post_message(self.Shown())

    def _fill(self, rows: list[recipients.RecipientRow], replace: bool) -> None:
        keep = self.selected_row()
        if replace:
            self.clear()
            self.loaded, self.order = {}, []
        for r in rows:
            if r.id in self.loaded:
                continue
            self.add_row(*self._cells(r), key=str(r.id))
            self.loaded[r.id] = r
            self.order.append(r.id)
        self.more = len(rows) >= PAGE
        if replace and keep is not None and keep.id in self.loaded:
            self.move_cursor(row=self.order.index(keep.id), animate=False)
        self.post_message(self.Shown())

    def selected_row(self) -> recipients.RecipientRow | None:
        if not self.order or not (0 <= self.cursor_row < len(self.order)):
            return None
        return self.loaded.get(self.order[self.cursor_row])

    @on(DataTable.RowHighlighted)
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if self.more and event.cursor_row >= len(self.order) - NEAR_END:
            self.more = False  # one read at a time
            self._next_page(self.order[-1])
