"""The audit trail for administrators (SPEC §6, issue #10): every change and every read
of patient data, newest first, filtered by day and login — what `clinicast audit`
lists, read by the same core function (core.audit.read.read, admin only)."""

from __future__ import annotations

import asyncio

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, Static

from core.audit.words import describe, row_number
from core.i18n import N_, _, ngettext, pgettext, quoted
from core.words import word
from tui import format as fmt
from tui.screens.base import ClinicastScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.text_input import TextInput

SHOWN = 1000  # the newest rows; `clinicast audit --csv` gives everything
WIDE = 100  # from this width the detail has a column too (below, only the line under the table)
CAMPAIGN_WIDE = 30  # the campaign's name beside the detail: cut here, whole under the table

Cells = tuple[str, str, str, str, Text, str]  # row, when, who, what, campaign, detail


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
        yield KeysFooter()

    def title_text(self) -> str:
        return _("Audit trail")

    def on_mount(self) -> None:
        self.rows: list[Cells] = []
        self.details: list[str] = []
        self._wide = self.size.width >= WIDE
        self._laid_out_for = 0  # the width the columns were last made for
        self.query_one("#audit-since-error").display = False
        self.title = self.title_text()
        self._columns()
        self.action_refresh()

    def on_resize(self) -> None:
        if self.size.width != self._laid_out_for:
            self._show()

    def _columns(self) -> None:
        """Each column as wide as its longest cell (a login at most 12); the campaign's name
        takes what is left at 80 columns, where the detail is only the line under the table."""
        table = self.query_one(DataTable)
        table.clear(columns=True)
        self._wide, self._laid_out_for = self.size.width >= WIDE, self.size.width
        headers = {
            "row": pgettext("audit column", "Row"),  # « n° 6 », as `audit verify` names a row
            "at": _("When"),
            "user": _("Who"),
            "action": _("What"),
            "campaign": _("Campaign"),
        }
        widths = {
            key: min(cap, max([cell_len(label), *(cell_len(str(cells[i])) for cells in self.rows)]))
            for i, (key, label, cap) in enumerate(
                (
                    ("row", headers["row"], 12),
                    ("at", headers["at"], 24),
                    ("user", headers["user"], 12),
                    ("action", headers["action"], 16),
                    ("campaign", headers["campaign"], CAMPAIGN_WIDE),
                )
            )
        }
        if not self._wide:  # the name gets the room: the detail is said whole under the table
            left = self.size.width - sum(v for k, v in widths.items() if k != "campaign") - 2 * len(widths) - 3
            widths["campaign"] = max(cell_len(headers["campaign"]), left)
        for key, label in headers.items():
            table.add_column(label, width=widths[key], key=key)
        if self._wide:
            table.add_column(_("Detail"), key="detail")

    def _show(self) -> None:
        """The rows read last, in the columns this width gives them."""
        if not self.is_mounted:
            return
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        self._columns()
        table.add_rows([cells if self._wide else cells[:-1] for cells in self.rows])
        if 0 <= row < table.row_count:
            table.move_cursor(row=row, animate=False)
        self._show_detail(table.cursor_row)

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
        """The row under the cursor, whole: its campaign's name and its detail (their
        columns are cut, and at 80 columns the detail has none)."""
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

        def read_in_words() -> list[tuple[Cells, str]]:
            """The rows as the table shows them, and each one's line under the table, read
            and worded off the event loop (a thousand rows' dates and details take tens of
            milliseconds)."""
            out = []
            for r in audit_read.read(ctx, day, user or None, SHOWN, True):
                if r.campaign_id is None:
                    name = ""
                else:  # as the campaign list names it; a row outlives its campaign: its number
                    name = r.campaign_name or _("campaign #{id}").format(id=r.campaign_id)
                detail = describe(r.detail, tz)
                cells: Cells = (
                    row_number(r.id),
                    fmt.when(r.at, tz, seconds=True),  # as `clinicast audit` shows it
                    r.user,
                    word("audit", r.action),
                    Text(name, no_wrap=True, overflow="ellipsis"),
                    detail,
                )
                whole = " · ".join(part for part in (quoted(name) if name else "", detail) if part)
                out.append((cells, whole))
            return out

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
        self.rows = [cells for cells, _whole in rows]
        self.details = [whole for _cells, whole in rows]
        self._show()
        n = len(rows)
        if n >= SHOWN:
            said = _("{n} entries (the newest {shown}: `clinicast audit --csv` gives all)")
        else:
            said = ngettext("{n} entry", "{n} entries", n)
        note.update(said.format(n=fmt.num(n), shown=fmt.num(SHOWN)))
        self.query_one(DataTable).focus()
