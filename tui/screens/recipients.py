"""The recipients of one campaign (SPEC §4): counts by status that refresh by themselves
while the campaign is being sent, the paged table (widgets/recipient_table.py), and the
flows its keys start — each one linear worker (screens/base.py).
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static

from core import campaigns, recipients
from core.enums import Kind, RecipientStatus
from core.i18n import _
from core.optouts.ledger import Recorded
from core.reasons import describe
from tui import format as fmt
from tui.screens.base import ClinicastScreen
from tui.screens.modals import ConfirmModal
from tui.screens.opt_out import OptOutFlow
from tui.screens.sending import SendingControl
from tui.widgets.recipient_table import RecipientTable
from tui.widgets.status_line import StatusLine
from tui.widgets.text_input import TextInput


class RecipientsScreen(ClinicastScreen[None]):
    AUTO_FOCUS = "#recipients"
    # One list: a new key is a Binding here, an `action_…` below and a palette line.
    # The footer shows them in this order; at 80 columns the last ones may not fit:
    # `?` lists every one (and the status line says so).
    BINDINGS = [
        Binding("a", "add", "Add", tooltip="Add patients to the campaign", id="recipients.add"),
        Binding("s", "start", "Start", tooltip="Send to every recipient not yet sent to", id="recipients.start"),
        Binding("S", "stop_sending", "Stop", tooltip="Cancel what was not sent yet", id="recipients.stop"),
        Binding("T", "test_send", "Test", tooltip="Send yourself a test", id="recipients.test"),
        Binding("enter", "detail", "Detail", tooltip="Everything about the selected recipient", id="recipients.detail"),
        Binding("x", "remove", "Remove", tooltip="Take the selected patient off the campaign", id="recipients.remove"),
        Binding("o", "opt_out", "Opt-out", tooltip="Record the patient's opt-out", id="recipients.opt_out"),
        Binding("i", "reinvite", "Re-invite", tooltip="A fresh invitation to the expired", id="recipients.reinvite"),
        Binding("slash", "search", "Search", tooltip="Find a recipient by name or EMR id", id="recipients.search"),
        Binding("E", "export", "Export", tooltip="The ledger to a CSV file", id="recipients.export"),
        Binding("t", "template", "Template", tooltip="Edit the messages", id="recipients.template"),
        Binding("e", "edit", "Edit", tooltip="Edit the campaign's details", id="recipients.edit"),
        Binding("r", "refresh", "Refresh", id="recipients.refresh"),
        Binding("escape", "back", "Back", key_display="esc", id="recipients.back"),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.summary: campaigns.CampaignSummary | None = None
        self._ticks = 0
        self.sending = SendingControl(self, self)
        self.opt_outs = OptOutFlow(self, recorded=self.opt_out_recorded)

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield Static(id="campaign-info")
        yield Static(id="counts")
        with Horizontal(id="progress-row", classes="hidden"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress", show_eta=False)
        yield TextInput(
            placeholder="search by name or EMR id…  (enter: back to the table, escape: clear)",
            id="search",
            classes="hidden",
        )
        yield RecipientTable(self.campaign_id, id="recipients")
        yield Static(id="table-note")
        yield StatusLine()
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> RecipientTable:
        return self.query_one(RecipientTable)

    def on_mount(self) -> None:
        self.title = "Campaign"
        self.table.fit(self.size.width)
        self.table.loading = True
        self.load_summary()
        self.table.load("")
        self.set_interval(1, self._tick)

    def on_screen_resume(self) -> None:
        if self.summary is not None:
            self.action_refresh()

    def on_resize(self) -> None:
        self.table.fit(self.size.width)

    # --- reading -------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="summary")
    async def load_summary(self) -> None:
        s = await asyncio.to_thread(campaigns.summary, self.app.ctx, self.campaign_id)
        changed = self.summary is None or self.summary.counts != s.counts or self.summary.status != s.status
        self.summary = s
        self._show_summary(s)
        self.refresh_bindings()  # the keys that apply to this kind (re-invite: an invitation)
        if changed and self.table.order:
            self.table.reload_shown()

    def _show_summary(self, s: campaigns.CampaignSummary) -> None:
        self.title = s.name
        info = Text(no_wrap=True, overflow="ellipsis")
        info.append(f"{s.kind} by {s.channel} · ", style="bold")
        info.append(s.status, style=fmt.CELL_STYLE.get(s.status, ""))
        if s.kind == Kind.BROADCAST and s.starts_on:
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

        # the words add up to the total; the removed are said apart, outside it
        counts = Text(no_wrap=True, overflow="ellipsis")
        for status, n in s.shown_counts():
            if not n and status not in (RecipientStatus.ASSIGNED, RecipientStatus.SENT):
                continue
            if counts:
                counts.append("  ")
            counts.append(f"{status} ", style="dim" if not n else fmt.CELL_STYLE.get(status, ""))
            counts.append(fmt.num(n), style="bold" if n else "dim")
        counts.append(_("   total {n}").format(n=fmt.num(s.total)), style="bold")
        if s.removed:
            counts.append(_(" (+{n} removed, not counted)").format(n=fmt.num(s.removed)), style="dim")
        self.query_one("#counts", Static).update(counts)

        in_flight = s.counts.get("queued", 0) + s.counts.get("retrying", 0)
        row = self.query_one("#progress-row")
        if in_flight:
            done = s.counts.get("sent", 0) + s.counts.get("failed", 0)
            bar = self.query_one(ProgressBar)
            bar.update(total=done + in_flight, progress=done)
            label = f"Sending: {fmt.num(done)} of {fmt.num(done + in_flight)} done "
            if s.held:  # core's words: emails or pushes, the window or sending hours
                label = f"{s.held} "
            self.query_one("#progress-label", Static).update(label)
        row.set_class(not in_flight, "hidden")

    def _search_text(self) -> str:
        return self.query_one("#search", Input).value.strip()

    @on(RecipientTable.Shown)
    def _note(self) -> None:
        note = self.query_one("#table-note", Static)
        search = self._search_text()
        table = self.table
        if not table.order:
            if search:
                note.update(f"No recipient matches {search!r}.")
            else:
                note.update("No recipients yet — press a to add patients.")
            return
        shown = f"{fmt.num(len(table.order))} shown · " + _("enter: everything about the selected one")
        if table.more:
            shown += " · more below (scroll to read them)"
        if search:
            shown += f" · search {search!r}"
        note.update(shown)

    def selected_row(self) -> recipients.RecipientRow | None:
        return self.table.selected_row()

    def _tick(self) -> None:
        if not self.is_current or self.summary is None:
            return
        self._ticks += 1
        sending = self.summary.counts.get("queued", 0) + self.summary.counts.get("retrying", 0)
        if sending or self._ticks % 5 == 0:
            self.load_summary()

    def _changed(self) -> None:
        """After a write: send now rather than at the next tick, and show the new state."""
        self.app.wake_scheduler()
        self.action_refresh()

    # --- actions (one small method per key) ----------------------------------------

    def action_refresh(self) -> None:
        self.load_summary()
        self.table.load(self._search_text())

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self.table.load(self._search_text())

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.table.focus()

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if not box.has_class("hidden"):
            cleared = bool(box.value)
            box.value = ""
            box.add_class("hidden")
            self.table.focus()
            if cleared:
                self.table.load("")
            return
        self.app.pop_screen()

    def action_template(self) -> None:
        from tui.screens.template_editor import TemplateEditorScreen

        self.app.push_screen(TemplateEditorScreen(self.campaign_id))

    def action_edit(self) -> None:
        from tui.screens.campaign_detail import CampaignDetailScreen

        self.app.push_screen(CampaignDetailScreen(self.campaign_id))

    def action_add(self) -> None:
        if self.summary is not None and not self.running("add"):
            self.add_flow(self.summary.kind)

    @on(DataTable.RowSelected, "#recipients")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    def action_detail(self) -> None:
        """Everything about the selected recipient (enter)."""
        r = self.selected_row()
        if r is None:
            return
        from tui.screens.recipient_detail import RecipientDetailModal

        self.app.push_screen(RecipientDetailModal(self.campaign_id, r.id))

    def action_remove(self) -> None:
        r = self.selected_row()
        if r is None or self.running("remove"):
            return
        if r.status == RecipientStatus.REMOVED:
            self.notify(f"{r.name} was already removed", markup=False, timeout=3)
            return
        self.remove_flow(r)

    def action_opt_out(self) -> None:
        r = self.selected_row()
        if r is not None and not self.opt_outs.running():
            self.opt_outs.ask(r.emr_id, r.name)

    def opt_out_recorded(self, done: Recorded) -> None:
        self._changed()

    def action_export(self) -> None:
        if not self.running("export"):
            self.export_flow()

    @work(exclusive=True, exit_on_error=False, group="export")
    async def export_flow(self) -> None:
        """The recipient ledger as CSV (core.exports: owner-only file, audited)."""
        import os

        from core import exports

        folder = self.app.start_folder or os.getcwd()
        path = await asyncio.to_thread(exports.write_recipients_csv, self.app.ctx, self.campaign_id, folder)
        self.notify(f"The recipient ledger is in {path}", title="Exported", markup=False, timeout=8)

    def action_start(self) -> None:
        if self.summary is not None and not self.running("start"):
            self.start_flow(self.summary)

    # --- flows (linear workers: ask, do, say) --------------------------------------

    @work(exclusive=True, exit_on_error=False, group="add")
    async def add_flow(self, kind: str) -> None:
        from tui.screens.add_patients import AddPatientsModal

        modal = AddPatientsModal(self.campaign_id, kind, start_folder=self.app.start_folder)
        result = await self.app.push_screen_wait(modal)
        if result is None:
            return
        self.notify(assign_message(result), title="Patients added", markup=False, timeout=6)
        self._changed()

    @work(exclusive=True, exit_on_error=False, group="remove")
    async def remove_flow(self, r: recipients.RecipientRow) -> None:
        ctx = self.app.ctx
        effect = await asyncio.to_thread(recipients.removal_effect, ctx, self.campaign_id, r.emr_id)
        message = f"Remove {r.name} (EMR {r.emr_id}) from “{self.campaign_name()}”?\n\n{effect[0].upper()}{effect[1:]}."
        confirm = ConfirmModal("Remove recipient", message, yes="Remove", danger=True)
        if not await self.app.push_screen_wait(confirm):
            return
        # the session as it is now: a permission taken away while the dialog was open applies
        outcome = await asyncio.to_thread(recipients.remove, self.app.ctx, self.campaign_id, r.emr_id)
        self.notify(f"{r.name} removed: {outcome}", markup=False, timeout=6)
        self.app.wake_scheduler()
        self.load_summary()
        self.table.reload_shown()

    @work(exclusive=True, exit_on_error=False, group="start")
    async def start_flow(self, s: campaigns.CampaignSummary) -> None:
        ctx = self.app.ctx
        plan = await asyncio.to_thread(recipients.start_plan, ctx, self.campaign_id)
        if plan.will_send == 0 and not plan.skipped:
            self.notify(
                f"Nothing to start: no recipient is waiting ({fmt.num(plan.already_sent)} already "
                f"sent, {fmt.num(plan.in_progress)} being sent). Press a to add patients.",
                markup=False,
                timeout=6,
            )
            return
        gaps = await asyncio.to_thread(campaigns.language_gaps, ctx, self.campaign_id)
        message = start_message(s, plan, ctx)
        if gaps:  # a blank version: its speakers get the default language (core.campaigns.languages)
            message += "\n\n" + "\n".join(_("Warning: {gap}.").format(gap=g) for g in gaps)
        confirm = ConfirmModal(f"Start “{s.name}”", message, yes="Start")
        if not await self.app.push_screen_wait(confirm):
            return
        plan = await asyncio.to_thread(recipients.start, self.app.ctx, self.campaign_id)  # the session as it is now
        what = "emails" if s.kind == Kind.INVITATION else "push notifications"
        msg = f"Started: {fmt.num(plan.will_send)} {what} queued"
        if plan.skipped:
            msg += f", {fmt.num(sum(plan.skipped.values()))} skipped"
        if plan.sending_begins:
            msg += f" ({plan.sending_begins})"
        self.notify(msg, title="Campaign started", markup=False, timeout=6)
        self._changed()

    # sending control (tui.screens.sending)
    def action_stop_sending(self) -> None:
        self.sending.stop()

    def action_reinvite(self) -> None:
        self.sending.reinvite()

    def action_test_send(self) -> None:
        self.sending.test_send()

    def campaign_kind(self) -> str | None:
        return self.summary.kind if self.summary else None

    def campaign_name(self) -> str:
        return self.summary.name if self.summary else f"campaign #{self.campaign_id}"

    def unsaved_changes(self) -> bool:
        return False

    def test_patient(self) -> tuple[str, int | None]:
        r = self.selected_row()
        return (r.emr_id, None) if r is not None else ("", None)

    def sending_changed(self) -> None:
        self._changed()

    def check_action(self, action: str, parameters) -> bool | None:
        """Only what applies: a broadcast has no invitation to re-invite."""
        if action == "reinvite":
            return self.summary is None or self.summary.kind == Kind.INVITATION
        return True

    def palette_commands(self):
        return [
            (name, help_text, callback)
            for name, help_text, callback in self._palette()
            if self.check_action(callback.__name__.removeprefix("action_"), ())
        ]

    def _palette(self):
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
    what = "email" if s.kind == Kind.INVITATION else "push notification"
    lines = [f"Will be sent: {fmt.num(plan.will_send)} ({what}s)"]
    if plan.sending_begins:  # the window not open yet, or outside sending hours (SPEC §11)
        lines[0] += f", {plan.sending_begins}"
    elif plan.will_send:
        lines[0] += ", now"
    if plan.pace:  # the relay's pace: when the last one leaves
        lines.append(plan.pace[:1].upper() + plan.pace[1:])
    if plan.skipped:
        lines.append(f"Skipped: {fmt.num(sum(plan.skipped.values()))}")
        for why, n in sorted(plan.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {fmt.num(n):>6}  {describe(why)}")
    lines.append(f"Already sent (not sent again): {fmt.num(plan.already_sent)}")
    if plan.in_progress:
        lines.append(f"Being sent now: {fmt.num(plan.in_progress)}")
    return "\n".join(lines)
