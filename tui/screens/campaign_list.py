"""The first screen: every campaign, its status, window and how many were sent."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Input, Static

from core import campaigns
from core.enums import CampaignStatus, Kind, Permission
from core.errors import Refused
from core.i18n import N_, _, ngettext
from core.words import funnel_steps, word
from tui import format as fmt
from tui.screens.base import ClinicastScreen
from tui.screens.modals import ConfirmModal
from tui.typeahead import typed_first
from tui.widgets.footer import KeysFooter
from tui.widgets.status_line import StatusLine
from tui.widgets.text_input import TextInput

WIDE = 100  # from this width the list also shows when each campaign last changed
STATUS_WIDTH = 16  # the status column at least (the English words); wider when a longer one is shown


class CampaignListScreen(ClinicastScreen[None]):
    AUTO_FOCUS = "#campaigns"
    BINDINGS = [
        Binding("n", "new", N_("New"), tooltip=N_("Create a campaign"), id="campaigns.new"),
        Binding(
            "enter", "open", N_("Open"), tooltip=N_("Recipients of the campaign"), priority=True, id="campaigns.open"
        ),
        Binding("e", "edit", N_("Edit"), tooltip=N_("Edit the campaign's details"), id="campaigns.edit"),
        Binding("t", "template", N_("Template"), tooltip=N_("Edit the messages"), id="campaigns.template"),
        Binding("slash", "filter", N_("Filter"), tooltip=N_("Filter by name as you type"), id="campaigns.filter"),
        Binding(
            "v",
            "toggle_archived",
            N_("Archived"),
            tooltip=N_("Show or hide archived campaigns"),
            id="campaigns.archived",
        ),
        # shift+a, as the recipients' heavier keys (S stop, T test, E export): never an `a`
        # meant for "add"; says "Unarchive" on an archived campaign (`active_bindings`)
        Binding(
            "A",
            "archive",
            N_("Archive"),
            tooltip=N_("Hide it from the list (kept for audit)"),
            id="campaigns.archive",
        ),
        # not in the footer, which at 80 columns in French had no room left for the archive
        # key: the list reads itself again on coming back to it and while a campaign is
        # sending; r still does it (`?` lists it, and the palette)
        Binding("r", "refresh", N_("Refresh"), show=False, id="campaigns.refresh"),
        Binding("escape", "clear_filter", N_("Clear filter"), show=False, id="campaigns.clear_filter"),
        # hidden in the footer (staff without admin never see it); listed in the palette
        Binding(
            "l",
            "audit",
            N_("Audit log"),
            tooltip=N_("Who changed or read what (admin)"),
            show=False,
            id="campaigns.audit",
        ),
    ]

    show_archived: reactive[bool] = reactive(False)

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, campaigns.CampaignSummary] = {}
        self._funnels: dict[int, dict[str, int]] = {}  # the last funnel read for each campaign
        self._status_w = STATUS_WIDTH  # the status column, as wide as the longest status shown
        self._order: list[int] = []
        self._wide: bool | None = None
        self.title = self.title_text()

    def title_text(self) -> str:
        return _("Campaigns")

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#filter", Input).placeholder = self._placeholder()
        self._columns()
        self._show(list(self.rows.values()))

    @staticmethod
    def _placeholder() -> str:
        return _("filter by name…  (enter: back to the list, escape: clear)")

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield TextInput(placeholder=self._placeholder(), id="filter", classes="hidden")
        yield DataTable(id="campaigns", cursor_type="row", zebra_stripes=True)
        yield Static("", id="empty", classes="hidden")
        yield Static("", id="campaign-detail")
        yield StatusLine()
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self._columns()
        self.set_interval(3, self._tick)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def on_resize(self) -> None:
        if self._wide != (self.size.width >= WIDE):
            self._columns()
            self._show(list(self.rows.values()))

    def _columns(self) -> None:
        """Names get the room (issue #18): below WIDE the kind leaves the table for the
        line under it (with the channel), and the name takes what is left."""
        table = self.query_one(DataTable)
        self._wide = self.size.width >= WIDE
        table.clear(columns=True)
        # each fixed column as wide as its header in the language in use (never cut), the
        # status as the longest it shows (_show): « envoyée avec erreurs » read « envoyée
        # avec er… », and sized for that word whether shown or not it cut every name
        widths = {
            key: max(least, cell_len(label))
            for key, label, least in (
                ("kind", _("Kind"), 10),
                ("status", _("Status"), self._status_w),
                ("window", _("Window"), 8),
                ("sent", _("Sent / total"), 13),
                ("changed", _("Last change"), 16),
            )
        }
        shown = ("kind", "status", "window", "sent", "changed") if self._wide else ("status", "window", "sent")
        name_w = max(12, self.size.width - sum(widths[k] for k in shown) - 2 * (len(shown) + 1) - 3)
        table.add_column(_("Name"), width=name_w, key="name")
        if self._wide:
            table.add_column(_("Kind"), width=widths["kind"], key="kind")
        table.add_column(_("Status"), width=widths["status"], key="status")
        table.add_column(_("Window"), width=widths["window"], key="window")
        table.add_column(_("Sent / total"), width=widths["sent"], key="sent")
        if self._wide:
            table.add_column(_("Last change"), width=widths["changed"], key="changed")

    # --- data ----------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="campaigns")
    async def _load(self, include_archived: bool, search: str) -> None:
        # no funnels here: the one under the cursor is read on its own (_load_funnel)
        rows = await asyncio.to_thread(
            campaigns.summaries, self.app.ctx, include_archived=include_archived, search=search, funnels=False
        )
        self._show(rows)

    @work(exclusive=True, exit_on_error=False, group="funnel")
    async def _load_funnel(self, campaign_id: int) -> None:
        funnel = await asyncio.to_thread(campaigns.funnel, self.app.ctx, campaign_id)
        if self._funnels.get(campaign_id) != funnel:
            self._funnels[campaign_id] = funnel
            if self.selected_id() == campaign_id:
                self._show_detail(fetch=False)

    def _status_words(self, s: campaigns.CampaignSummary) -> str:
        return _("archived") if s.archived else word("campaign", s.status)

    def _show(self, rows: list[campaigns.CampaignSummary]) -> None:
        table = self.query_one(DataTable)
        status_w = max([STATUS_WIDTH, *(cell_len(self._status_words(s)) for s in rows)])
        if status_w != self._status_w:  # a longer status shown (or no longer): the names' room follows
            self._status_w = status_w
            self._columns()
        tz = self.app.ctx.config.clinic.tz
        keep = self.selected_id()
        self.rows = {s.id: s for s in rows}
        table.clear()
        data = []
        for s in rows:
            # archived: said in the status column, the name whole (« (archivée) » before the
            # name ate it at 80 columns; after it, the name's cut took the mark); its status
            # is on the line under the table
            name = Text(s.name, no_wrap=True, overflow="ellipsis", style="dim" if s.archived else "")
            status = (
                Text(self._status_words(s), style="dim", no_wrap=True, overflow="ellipsis")
                if s.archived
                else fmt.cell(self._status_words(s), s.status)
            )
            row: list[Text | str] = [
                name,
                *([Text(word("kind", s.kind), no_wrap=True, overflow="ellipsis")] if self._wide else []),
                status,
                fmt.cell(word("window", s.window_state) or "—", s.window_state),
                Text(f"{fmt.num(s.sent)} / {fmt.num(s.total)}", justify="right"),
            ]
            if self._wide:
                row.append(fmt.short_when(s.updated_at, tz))
            data.append(row)
        table.add_rows(data)
        self._order = [s.id for s in rows]
        if keep in self._order:
            table.move_cursor(row=self._order.index(keep), animate=False)
        empty = self.query_one("#empty", Static)
        if not rows:
            search = self.query_one("#filter", Input).value.strip()
            empty.update(
                _("No campaign matches “{search}”.").format(search=search)
                if search
                else _("No campaigns yet — press {key} to create one.").format(key=self.key_for("new"))
            )
        empty.set_class(bool(rows), "hidden")
        table.set_class(not rows, "hidden")
        self._detail()

    def selected(self) -> campaigns.CampaignSummary | None:
        table = self.query_one(DataTable)
        order = self._order
        if not order or table.cursor_row is None or not (0 <= table.cursor_row < len(order)):
            return None
        return self.rows.get(order[table.cursor_row])

    def selected_id(self) -> int | None:
        s = self.selected()
        return s.id if s else None

    @on(DataTable.RowHighlighted)
    def _detail(self) -> None:
        self._show_detail(fetch=True)
        self.refresh_bindings()  # the archive key says what it does to this campaign

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The archive key as it applies to the campaign under the cursor: "Unarchive" on
        an archived one."""
        bindings = super().active_bindings
        s = self.selected() if self._order else None
        if s is None or not s.archived:
            return bindings
        return {
            key: ActiveBinding(
                a.node,
                replace(a.binding, description=_("Unarchive"), tooltip=_("Show it in the list again")),
                a.enabled,
                _("Show it in the list again"),
            )
            if a.binding.id == "campaigns.archive"
            else a
            for key, a in bindings.items()
        }

    def _show_detail(self, fetch: bool) -> None:
        s = self.selected()
        detail = self.query_one("#campaign-detail", Static)
        if s is None:
            detail.update("")
            return
        tz = self.app.ctx.config.clinic.tz
        text = Text(no_wrap=True, overflow="ellipsis")
        if s.archived:  # its status, which the table's column gives to « archived »
            text.append(_("(archived, {status})").format(status=word("campaign", s.status)) + " ", style="dim")
        text.append(s.name, style="bold")
        text.append(
            " · " + _("{kind} by {channel}").format(kind=word("kind", s.kind), channel=word("channel", s.channel))
        )
        if s.kind == Kind.BROADCAST and s.starts_on:
            text.append(
                " · "
                + _("shows {first} → {last}").format(first=fmt.short_day(s.starts_on), last=fmt.short_day(s.ends_on))
            )
        text.append("\n")
        counts = " · ".join(f"{word('recipient', st)} {fmt.num(n)}" for st, n in s.shown_counts() if n)
        if s.removed:
            counts += ngettext(" (+{n} removed)", " (+{n} removed)", s.removed).format(n=fmt.num(s.removed))
        text.append(counts or _("no recipients yet"), style="dim" if not counts else "")
        if s.kind == Kind.INVITATION and fetch:
            self._load_funnel(s.id)
        f = self._funnels.get(s.id) if s.funnel is None else s.funnel
        if f is not None and f.get("invited"):
            text.append("   " + funnel_steps(f), style="cyan")
        # on the second line when it has room, else on a third (French runs longer, and
        # counts grow: « envoyé 94 · écarté 106   invités 94, … » left no room at 80 columns)
        changed = _("changed {when}").format(when=fmt.short_when(s.updated_at, tz))
        second = text.plain.partition("\n")[2]
        room = detail.content_region.width or self.app.size.width - 2
        third = Text(second + "   " + changed).cell_len > room
        text.append(("\n" if third else "   ") + changed, style="dim")
        detail.styles.height = 3 if third else 2
        detail.update(text)

    def _tick(self) -> None:
        """Follow campaigns being sent without a keypress."""
        if any(s.status == CampaignStatus.SENDING for s in self.rows.values()) and self.is_current:
            self.action_refresh()

    # --- actions -------------------------------------------------------------------

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "audit":  # the audit trail is for administrators (core checks it too)
            ctx = self.app.ctx
            return ctx is not None and ctx.holds(Permission.ADMIN)
        return True

    def action_audit(self) -> None:
        from tui.screens.audit import AuditScreen

        self.app.push_screen(AuditScreen())

    def action_refresh(self) -> None:
        self._load(self.show_archived, self.query_one("#filter", Input).value.strip())

    def watch_show_archived(self, value: bool) -> None:
        if self.is_mounted:
            self.notify(_("Archived campaigns shown") if value else _("Archived campaigns hidden"), timeout=2)
            self.action_refresh()

    def action_toggle_archived(self) -> None:
        self.show_archived = not self.show_archived

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or not box.has_class("hidden"):
            box.value = ""
            box.add_class("hidden")
            self.query_one(DataTable).focus()
            self.action_refresh()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.action_refresh()

    @typed_first
    def action_open(self) -> None:
        if self.focused is not self.query_one(DataTable):
            self.query_one(DataTable).focus()  # enter in the filter: back to the list
            return
        s = self.selected()
        if s is None:
            return
        from tui.screens.recipients import RecipientsScreen

        self.app.push_screen(RecipientsScreen(s.id))

    def action_new(self) -> None:
        from tui.screens.campaign_detail import CampaignDetailScreen

        self.app.push_screen(CampaignDetailScreen(None), self._after_new)

    def action_edit(self) -> None:
        s = self.selected()
        if s is None:
            return
        from tui.screens.campaign_detail import CampaignDetailScreen

        self.app.push_screen(CampaignDetailScreen(s.id), self._after_detail)

    def _after_new(self, campaign_id: int | None) -> None:
        if campaign_id is not None:
            self._open_id(campaign_id)

    def _after_detail(self, campaign_id: int | None) -> None:
        if campaign_id is None:
            return
        self.action_refresh()

    def action_template(self) -> None:
        s = self.selected()
        if s is None:
            return
        from tui.screens.template_editor import TemplateEditorScreen

        self.app.push_screen(TemplateEditorScreen(s.id))

    def palette_commands(self):
        cmds = [
            (_("New campaign"), _("Create an invitation or a broadcast"), self.action_new),
            (_("Refresh the list"), _("Read the campaigns again"), self.action_refresh),
            (
                _("Show archived campaigns") if not self.show_archived else _("Hide archived campaigns"),
                _("Archived campaigns are kept for audit"),
                self.action_toggle_archived,
            ),
        ]
        if self.check_action("audit", ()):
            cmds.append((_("Audit log (l)"), _("Who changed or read what, and when"), self.action_audit))
        s = self.selected()
        if s is not None:
            cmds.append(
                (
                    _("Archive “{name}”").format(name=s.name)
                    if not s.archived
                    else _("Unarchive “{name}”").format(name=s.name),
                    _("Hide it from the list (kept for audit)") if not s.archived else _("Show it in the list again"),
                    self.action_archive,
                )
            )
        for s in self.rows.values():
            cmds.append(
                (
                    _("Open campaign: {name}").format(name=s.name),
                    f"{word('kind', s.kind)} · {word('campaign', s.status)}",
                    partial(self._open_id, s.id),
                )
            )
        return cmds

    def _open_id(self, campaign_id: int) -> None:
        from tui.screens.recipients import RecipientsScreen

        self.app.push_screen(RecipientsScreen(campaign_id))

    def action_archive(self) -> None:
        s = self.selected()
        if s is not None and not self.running("archive"):
            self.archive_flow(s.id, s.name, not s.archived)

    @work(exclusive=True, exit_on_error=False, group="archive")
    async def archive_flow(self, campaign_id: int, name: str, archived: bool) -> None:
        """Asks first, then core.campaigns.archive (as `clinicast campaigns archive`): its
        permission check, and its refusal while deliveries are under way (said at once,
        rather than after a confirmation it would refuse)."""
        refusal = await asyncio.to_thread(campaigns.archive_refusal, campaign_id, archived)
        if refusal is not None:
            self.action_refresh()  # archived (or back) meanwhile by someone else: the list as it is now
            raise Refused(refusal)
        if archived:
            confirm = ConfirmModal(
                lambda: _("Archive “{name}”").format(name=name),
                lambda: _(
                    "The campaign leaves the list. Nothing is deleted: its recipients, messages "
                    "and history are kept for audit, and the archived campaigns can be shown again."
                ),
                yes=lambda: _("Archive"),
            )
        else:
            confirm = ConfirmModal(
                lambda: _("Unarchive “{name}”").format(name=name),
                lambda: _("The campaign comes back in the list."),
                yes=lambda: _("Unarchive"),
            )
        if not await self.app.push_screen_wait(confirm):
            return
        try:
            c = await asyncio.to_thread(campaigns.archive, self.app.ctx, campaign_id, archived)
        except Refused:  # said as any failure; one archived (or back) meanwhile: the list as it is now
            self.action_refresh()
            raise
        self.notify(
            (_("“{name}” archived") if c.archived else _("“{name}” back in the list")).format(name=c.name), markup=False
        )
        self.action_refresh()
