"""The audit trail for administrators (SPEC §6, issue #10): every change and every read
of patient data, newest first, filtered by day and login — what `clinicast audit`
lists, read by the same core function (core.audit.read.read, admin only)."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Static

from core.audit.words import describe, row_number
from core.i18n import N_, _, ngettext, pgettext, quoted
from core.words import word
from tui import format as fmt
from tui.screens.base import ClinicastScreen
from tui.widgets.text_input import TextInput

SHOWN = 1000  # the newest rows; `clinicast audit --csv` gives everything


class AuditScreen(ClinicastScreen[None]):
    AUTO_FOCUS = "#audit-rows"
    BINDINGS = [
        Binding("escape", "back", N_("Back"), key_display="esc", id="audit.back"),
        Binding("r", "refresh", N_("Refresh"), id="audit.refresh"),
        Binding("slash", "filter", N_("Filter"), tooltip=N_("By day (YYYY-MM-DD) and login"), id="audit.filter"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        with Horizontal(id="audit-filters"):
            yield TextInput(placeholder=_("since YYYY-MM-DD"), id="audit-since")
            yield TextInput(placeholder=_("login"), id="audit-user")
        yield Static("", id="audit-since-error", classes="error", markup=False)  # under the field it is about
        yield DataTable(id="audit-rows", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-detail", markup=False)  # the highlighted row's detail, whole
        yield Static("", id="audit-note", classes="hint")
        yield Footer(compact=True)

    def title_text(self) -> str:
        return _("Audit trail")

    def on_mount(self) -> None:
        self.details: list[str] = []
        self.query_one("#audit-since-error").display = False
        self.title = self.title_text()
        self._columns()
        self.action_refresh()

    def _columns(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_column(pgettext("audit column", "Row"), key="row")  # « n° 6 », as `audit verify` names it
        table.add_column(_("When"), width=22, key="at")
        table.add_column(_("Who"), width=12, key="user")
        table.add_column(_("What"), width=16, key="action")
        table.add_column(_("Campaign"), width=8, key="campaign")
        table.add_column(_("Detail"), key="detail")

    def relabel(self) -> None:
        """Every word again in the language now in use (the palette's switch)."""
        super().relabel()
        self.query_one("#audit-since", Input).placeholder = _("since YYYY-MM-DD")
        self.query_one("#audit-user", Input).placeholder = _("login")
        self._columns()
        self.action_refresh()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, row: int) -> None:
        """The detail of the row under the cursor, whole: its column is cut at 80 columns."""
        self.query_one("#audit-detail", Static).update(self.details[row] if 0 <= row < len(self.details) else "")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_filter(self) -> None:
        self.query_one("#audit-since", Input).focus()

    @on(Input.Submitted)
    def action_refresh(self) -> None:
        since = self.query_one("#audit-since", Input).value
        user = self.query_one("#audit-user", Input).value
        self._load(since, user)

    @work(exclusive=True, exit_on_error=False, group="audit")
    async def _load(self, since: str, user: str) -> None:
        from core.audit import read as audit_read
        from core.errors import ClinicastError

        ctx = self.app.ctx
        tz = ctx.config.clinic.tz
        note = self.query_one("#audit-note", Static)

        def read_in_words() -> list[tuple[str, str, str, str, str, str]]:
            """The rows as the table shows them, read and worded off the event loop (a
            thousand rows' dates and details take tens of milliseconds)."""
            return [
                (
                    row_number(r.id),
                    fmt.when(r.at, tz, seconds=True),  # as `clinicast audit` shows it
                    r.user,
                    word("audit", r.action),
                    "" if r.campaign_id is None else str(r.campaign_id),
                    describe(r.detail, tz),
                )
                for r in audit_read.read(ctx, day, user or None, SHOWN, True)
            ]

        since_error = self.query_one("#audit-since-error", Static)
        # the field named as its placeholder shows it ("since YYYY-MM-DD"): core's words,
        # which the command line says with its option's name, --since
        field = quoted(pgettext("audit filter", "since"))
        try:
            day = audit_read.parse_since(since, field=field)
        except ClinicastError as e:  # a bad day: said under its field, where the eye is
            since_error.update(str(e))
            since_error.display = True
            self.query_one("#audit-since", Input).focus()
            return
        since_error.update("")
        since_error.display = False
        try:
            rows = await asyncio.to_thread(read_in_words)
        except ClinicastError as e:  # no admin permission (any more)
            note.update(str(e))
            return
        table = self.query_one(DataTable)
        table.clear()
        self.details = [detail for *_cells, detail in rows]
        table.add_rows(rows)
        self._show_detail(table.cursor_row)
        n = len(rows)
        if n >= SHOWN:
            said = _("{n} entries (the newest {shown}: `clinicast audit --csv` gives all)")
        else:
            said = ngettext("{n} entry", "{n} entries", n)
        note.update(said.format(n=fmt.num(n), shown=fmt.num(SHOWN)))
        table.focus()
