"""The recipients of one campaign (SPEC §4), paged from the database.

`DataTable` keeps every row and measures each cell on the event loop, so rows come in
pages of PAGE (keyset pagination on the recipient id): the next page is read when the
cursor nears the end of what is loaded. Counts by status come from SQL and refresh by
themselves while the campaign is being sent.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static

from core import campaigns, recipients
from core.reasons import describe

from .. import format as fmt
from ..widgets.status_line import StatusLine
from .base import WorkerResults
from .modals import ConfirmModal
from .sending import SendingControl

PAGE = 100  # rows read at a time: a few screens, measured cheaply (DataTable sizes every cell)
NEAR_END = 25  # read the next page when the cursor is this close to the last loaded row
WIDE = 100


class RecipientsScreen(SendingControl, WorkerResults, Screen):
    AUTO_FOCUS = "#recipients"
    BINDINGS = [
        Binding("a", "add", "Add", tooltip="Add patients to the campaign", id="recipients.add"),
        Binding("s", "start", "Start", tooltip="Send to every recipient not yet sent to", id="recipients.start"),
        Binding("x", "remove", "Remove", tooltip="Take the selected patient off the campaign", id="recipients.remove"),
        Binding("slash", "search", "Search", tooltip="Find a recipient by name or EMR id", id="recipients.search"),
        Binding("r", "refresh", "Refresh", id="recipients.refresh"),
        Binding("t", "template", "Template", tooltip="Edit the messages", id="recipients.template"),
        Binding("e", "edit", "Edit", tooltip="Edit the campaign's details", id="recipients.edit"),
        Binding("escape", "back", "Back", key_display="esc", id="recipients.back"),
        # sending control (SPEC §11); also in the command palette
        Binding("S", "stop_sending", "Stop", tooltip="Cancel what was not sent yet", show=False, id="recipients.stop"),
        Binding(
            "i",
            "reinvite",
            "Re-invite",
            tooltip="A fresh invitation to the expired",
            show=False,
            id="recipients.reinvite",
        ),
        Binding("T", "test_send", "Test", tooltip="Send yourself a test", show=False, id="recipients.test"),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.summary: campaigns.CampaignSummary | None = None
        self.loaded: dict[int, recipients.RecipientRow] = {}
        self.order: list[int] = []
        self.more = False
        self.busy = False
        self._ticks = 0
        self._wide: bool | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield Static(id="campaign-info")
        yield Static(id="counts")
        with Horizontal(id="progress-row", classes="hidden"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress", show_eta=False)
        yield Input(
            placeholder="search by name or EMR id…  (enter: back to the table, escape: clear)",
            id="search",
            classes="hidden",
        )
        yield DataTable(id="recipients", cursor_type="row", zebra_stripes=True)
        yield Static(id="table-note")
        yield StatusLine()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "Campaign"
        self._columns()
        self.query_one(DataTable).loading = True
        self._summary()
        self._first_page("")
        self.set_interval(1, self._tick)

    def on_screen_resume(self) -> None:
        if self.summary is not None:
            self.action_refresh()

    def on_resize(self) -> None:
        if self._wide != (self.size.width >= WIDE):
            self._columns()
            self._fill(list(self.loaded.values()), replace=True)

    def _columns(self) -> None:
        """Wide: a "Sent at" column. Narrow (80 columns): the sending time goes in the status."""
        table = self.query_one(DataTable)
        self._wide = self.size.width >= WIDE
        table.clear(columns=True)
        name_w = 26 if self._wide else 18
        fixed = 8 + name_w + 10 + (16 if self._wide else 0)
        ncols = 5 if self._wide else 4
        table.add_column("EMR id", width=8, key="emr")
        table.add_column("Name", width=name_w, key="name")
        table.add_column("Added", width=10, key="added")
        if self._wide:
            table.add_column("Sent at", width=16, key="sent")
        table.add_column("Status", width=max(14, self.size.width - fixed - 2 * ncols - 3), key="status")

    # --- reading -------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="summary")
    def _summary(self):
        return campaigns.summary(self.app.ctx, self.campaign_id)

    def _summary_done(self, s: campaigns.CampaignSummary) -> None:
        changed = self.summary is None or self.summary.counts != s.counts or self.summary.status != s.status
        self.summary = s
        self._show_summary()
        if changed and self.order:
            self._refresh_rows(self._search_text(), len(self.order))

    def _show_summary(self) -> None:
        s = self.summary
        tz = self.app.ctx.config.clinic.tz
        self.title = s.name
        info = Text(no_wrap=True, overflow="ellipsis")
        info.append(f"{s.kind} by {s.channel} · ", style="bold")
        info.append(s.status, style=fmt.CELL_STYLE.get(s.status, ""))
        if s.kind == "broadcast" and s.starts_on:
            info.append(" · window ")
            info.append(s.window_state or "", style=fmt.CELL_STYLE.get(s.window_state or "", ""))
            info.append(f" {fmt.day(s.starts_on)} → {fmt.day(s.ends_on)}")
        elif s.funnel is not None and s.funnel.get("invited"):
            f = s.funnel
            info.append(
                f" · invited {fmt.num(f['invited'])}, joined {fmt.num(f['joined'])}, expired {fmt.num(f['expired'])}"
            )
            if f.get("reinvited"):
                info.append(f", re-invited {fmt.num(f['reinvited'])}")
        if s.archived:
            info.append(" · archived", style="dim")
        self.query_one("#campaign-info", Static).update(info)

        counts = Text(no_wrap=True, overflow="ellipsis")
        for status in fmt.RECIPIENT_STATUS_ORDER:
            n = s.counts.get(status, 0)
            if not n and status not in ("assigned", "sent"):
                continue
            if counts:
                counts.append("  ")
            counts.append(f"{status} ", style="dim" if not n else fmt.CELL_STYLE.get(status, ""))
            counts.append(fmt.num(n), style="bold" if n else "dim")
        counts.append(f"   total {fmt.num(s.total)}", style="bold")
        self.query_one("#counts", Static).update(counts)

        in_flight = s.counts.get("queued", 0) + s.counts.get("retrying", 0)
        row = self.query_one("#progress-row")
        if in_flight:
            done = s.counts.get("sent", 0) + s.counts.get("failed", 0)
            bar = self.query_one(ProgressBar)
            bar.update(total=done + in_flight, progress=done)
            waiting = getattr(self, "queued_for", None)
            label = f"Sending: {fmt.num(done)} of {fmt.num(done + in_flight)} done "
            if waiting is not None and waiting > self.app.ctx.now():
                label = f"Pushes wait for the window: {fmt.when(waiting, tz)} "
            self.query_one("#progress-label", Static).update(label)
        row.set_class(not in_flight, "hidden")

    def _search_text(self) -> str:
        return self.query_one("#search", Input).value.strip()

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def _first_page(self, search: str):
        return recipients.page(self.app.ctx, self.campaign_id, search=search, limit=PAGE)

    def _first_page_done(self, rows: list[recipients.RecipientRow]) -> None:
        self.query_one(DataTable).loading = False
        self._fill(rows, replace=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def _next_page(self, search: str, after_id: int):
        return recipients.page(self.app.ctx, self.campaign_id, search=search, after_id=after_id, limit=PAGE)

    def _next_page_done(self, rows: list[recipients.RecipientRow]) -> None:
        self._fill(rows, replace=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def _refresh_rows(self, search: str, count: int):
        """The rows already on screen, read again (statuses change while sending)."""
        return recipients.page(self.app.ctx, self.campaign_id, search=search, limit=max(count, PAGE))

    def _refresh_rows_done(self, rows: list[recipients.RecipientRow]) -> None:
        table = self.query_one(DataTable)
        if [r.id for r in rows[: len(self.order)]] != self.order:
            self._fill(rows, replace=True)
            return
        for r in rows[: len(self.order)]:
            old = self.loaded[r.id]
            if old != r:
                self.loaded[r.id] = r
                keys = ("emr", "name", "added", "sent", "status") if self._wide else ("emr", "name", "added", "status")
                for key, value in zip(keys, self._cells(r), strict=False):
                    table.update_cell(str(r.id), key, value)
        if len(rows) > len(self.order):
            self._fill(rows[len(self.order) :], replace=False)
        self._note()

    def _cells(self, r: recipients.RecipientRow) -> list:
        tz = self.app.ctx.config.clinic.tz
        status = Text(r.status, style=fmt.CELL_STYLE.get(r.status, ""), no_wrap=True, overflow="ellipsis")
        if r.status == "retrying" and r.next_attempt_at:
            status.append(f" · next {fmt.when(r.next_attempt_at, tz)[11:]}", style="yellow")
        if r.reason_code:
            status.append(f" · {r.reason()}", style="dim")
        sent = fmt.when(r.sent_at, tz)
        name = Text(r.name, no_wrap=True, overflow="ellipsis")
        if self._wide:
            return [r.emr_id, name, fmt.day(r.added_at, tz), sent, status]
        if sent:
            status.append(f" {sent[5:]}", style="dim")
        return [r.emr_id, name, fmt.day(r.added_at, tz), status]

    def _fill(self, rows: list[recipients.RecipientRow], replace: bool) -> None:
        table = self.query_one(DataTable)
        keep = self.selected_row()
        if replace:
            table.clear()
            self.loaded, self.order = {}, []
        for r in rows:
            if r.id in self.loaded:
                continue
            table.add_row(*self._cells(r), key=str(r.id))
            self.loaded[r.id] = r
            self.order.append(r.id)
        self.more = len(rows) >= PAGE
        if replace and keep is not None and keep.id in self.loaded:
            table.move_cursor(row=self.order.index(keep.id), animate=False)
        self._note()

    def _note(self) -> None:
        note = self.query_one("#table-note", Static)
        search = self._search_text()
        if not self.order:
            if search:
                note.update(f"No recipient matches {search!r}.")
            else:
                note.update("No recipients yet — press a to add patients.")
            return
        shown = f"{fmt.num(len(self.order))} shown"
        if self.more:
            shown += " · more below (scroll to read them)"
        if search:
            shown += f" · search {search!r}"
        note.update(shown)

    def selected_row(self) -> recipients.RecipientRow | None:
        table = self.query_one(DataTable)
        if not self.order or not (0 <= table.cursor_row < len(self.order)):
            return None
        return self.loaded.get(self.order[table.cursor_row])

    @on(DataTable.RowHighlighted)
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if self.more and event.cursor_row >= len(self.order) - NEAR_END:
            self.more = False  # one read at a time
            self._next_page(self._search_text(), self.order[-1])

    def _tick(self) -> None:
        if not self.is_current or self.summary is None:
            return
        self._ticks += 1
        sending = self.summary.counts.get("queued", 0) + self.summary.counts.get("retrying", 0)
        if sending or self._ticks % 5 == 0:
            self._summary()

    # --- actions -------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._summary()
        self._first_page(self._search_text())

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self._first_page(self._search_text())

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one(DataTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if not box.has_class("hidden"):
            cleared = bool(box.value)
            box.value = ""
            box.add_class("hidden")
            self.query_one(DataTable).focus()
            if cleared:
                self._first_page("")
            return
        self.app.pop_screen()

    def action_template(self) -> None:
        from .template_editor import TemplateEditorScreen

        self.app.push_screen(TemplateEditorScreen(self.campaign_id))

    def action_edit(self) -> None:
        from .campaign_detail import CampaignDetailScreen

        self.app.push_screen(CampaignDetailScreen(self.campaign_id))

    # add
    def action_add(self) -> None:
        if self.summary is None:
            return
        from .add_patients import AddPatientsModal

        self.app.push_screen(
            AddPatientsModal(self.campaign_id, self.summary.kind, start_folder=self.app.start_folder), self._added
        )

    def _added(self, result: recipients.AssignResult | None) -> None:
        if result is None:
            return
        self.notify(assign_message(result), title="Patients added", markup=False, timeout=6)
        self.app.wake_scheduler()
        self.action_refresh()

    # remove
    def action_remove(self) -> None:
        r = self.selected_row()
        if r is None or self.busy:
            return
        if r.status == "removed":
            self.notify(f"{r.name} was already removed", markup=False, timeout=3)
            return
        self._removal_effect(r.emr_id, r.name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="remove")
    def _removal_effect(self, emr_id: str, name: str):
        return emr_id, name, recipients.removal_effect(self.app.ctx, self.campaign_id, emr_id)

    def _removal_effect_done(self, result) -> None:
        emr_id, name, effect = result
        message = f"Remove {name} (EMR {emr_id}) from “{self.summary.name}”?\n\n{effect[0].upper()}{effect[1:]}."

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self._remove(emr_id, name)

        self.app.push_screen(ConfirmModal("Remove recipient", message, yes="Remove", danger=True), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="remove")
    def _remove(self, emr_id: str, name: str):
        return name, recipients.remove(self.app.ctx, self.campaign_id, emr_id)

    def _remove_done(self, result) -> None:
        self.busy = False
        name, outcome = result
        self.app.wake_scheduler()
        self.notify(f"{name} removed: {outcome}", markup=False, timeout=6)
        self._summary()
        self._refresh_rows(self._search_text(), len(self.order))

    def _remove_failed(self, error: BaseException) -> bool:
        self.busy = False
        return False

    # start
    def action_start(self) -> None:
        if self.busy:
            return
        self._plan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="start")
    def _plan(self):
        return recipients.start_plan(self.app.ctx, self.campaign_id)

    def _plan_done(self, plan: recipients.StartPlan) -> None:
        s = self.summary
        if plan.will_send == 0 and not plan.skipped:
            self.notify(
                f"Nothing to start: no recipient is waiting ({fmt.num(plan.already_sent)} already "
                f"sent, {fmt.num(plan.in_progress)} being sent). Press a to add patients.",
                markup=False,
                timeout=6,
            )
            return
        self.app.push_screen(
            ConfirmModal(f"Start “{s.name}”", start_message(s, plan, self.app.ctx), yes="Start"), self._start_answered
        )

    def _start_answered(self, yes: bool | None) -> None:
        if yes:
            self.busy = True
            self._start()

    @work(thread=True, exclusive=True, exit_on_error=False, group="start")
    def _start(self):
        return recipients.start(self.app.ctx, self.campaign_id)

    def _start_done(self, plan: recipients.StartPlan) -> None:
        self.busy = False
        self.app.wake_scheduler()
        self.queued_for = plan.queued_for
        what = "emails" if self.summary.kind == "invitation" else "push notifications"
        msg = f"Started: {fmt.num(plan.will_send)} {what} queued"
        if plan.skipped:
            msg += f", {fmt.num(sum(plan.skipped.values()))} skipped"
        if plan.sending_begins:
            msg += f" ({plan.sending_begins})"
        self.notify(msg, title="Campaign started", markup=False, timeout=6)
        self.action_refresh()

    def _start_failed(self, error: BaseException) -> bool:
        self.busy = False
        return False

    # sending control (tui.screens.sending)
    def campaign_kind(self) -> str | None:
        return self.summary.kind if self.summary else None

    def campaign_name(self) -> str:
        return self.summary.name if self.summary else super().campaign_name()

    def test_patient(self) -> tuple[str, int | None]:
        r = self.selected_row()
        return (r.emr_id, None) if r is not None else ("", None)

    def sending_changed(self) -> None:
        self.action_refresh()

    def palette_commands(self):
        return [
            ("Add patients", "One patient, by conditions, or from a CSV file", self.action_add),
            ("Start the campaign", "Send to every recipient not yet sent to", self.action_start),
            ("Edit the template", "The messages, in French and English", self.action_template),
            ("Edit the campaign's details", "Name, window", self.action_edit),
            ("Remove the selected recipient", "They will not receive it / it leaves their feed", self.action_remove),
            ("Stop sending (S)", "Cancel what was not sent yet; a later start sends it", self.action_stop_sending),
            ("Send me a test (T)", "The message as the selected patient gets it", self.action_test_send),
            ("Re-invite the expired (i)", "A fresh invitation to those who did not join", self.action_reinvite),
            ("Refresh", "Read the recipients again", self.action_refresh),
        ]


def assign_message(r: recipients.AssignResult) -> str:
    parts = [f"{fmt.num(r.added)} added"]
    if r.already_assigned:
        parts.append(f"{fmt.num(r.already_assigned)} already there")
    if r.skipped:
        reasons = ", ".join(f"{describe(why)} {fmt.num(n)}" for why, n in sorted(r.skipped_reasons.items()))
        parts.append(f"{fmt.num(r.skipped)} skipped ({reasons})" if reasons else f"{fmt.num(r.skipped)} skipped")
    if r.published:
        parts.append(f"shown in {fmt.num(r.published)} feeds now")
    if r.not_found:
        parts.append(f"{fmt.num(len(r.not_found))} unknown ids")
    return "; ".join(parts)


def start_message(s: campaigns.CampaignSummary, plan: recipients.StartPlan, ctx) -> str:
    what = "email" if s.kind == "invitation" else "push notification"
    lines = [f"Will be sent: {fmt.num(plan.will_send)} ({what}s)"]
    if plan.sending_begins:  # the window not open yet, or outside sending hours (SPEC §11)
        lines[0] += f", {plan.sending_begins}"
    elif plan.will_send:
        lines[0] += ", now"
    if plan.skipped:
        lines.append(f"Skipped: {fmt.num(sum(plan.skipped.values()))}")
        for why, n in sorted(plan.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {fmt.num(n):>6}  {describe(why)}")
    lines.append(f"Already sent (not sent again): {fmt.num(plan.already_sent)}")
    if plan.in_progress:
        lines.append(f"Being sent now: {fmt.num(plan.in_progress)}")
    return "\n".join(lines)
