"""The recipients of one campaign (SPEC §4): counts by status that refresh by themselves
while the campaign is being sent, the paged table (widgets/recipient_table.py), and the
keys: each starts a flow, one linear worker — add, remove, start, export
(screens/recipient_flows.py), stop, re-invite, test send (screens/sending.py), opt-out
(screens/opt_out.py).
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, ProgressBar, Static

from core import campaigns, recipients
from core.enums import Kind, RecipientStatus
from core.i18n import N_, _, ngettext
from core.optouts.ledger import Recorded
from core.words import funnel_steps, word
from tui import format as fmt
from tui.screens.base import ClinicastScreen
from tui.screens.opt_out import OptOutFlow
from tui.screens.recipient_flows import RecipientFlows
from tui.screens.sending import SendingControl
from tui.widgets.footer import KeysFooter
from tui.widgets.recipient_table import RecipientTable
from tui.widgets.status_line import StatusLine
from tui.widgets.text_input import TextInput


class RecipientsScreen(ClinicastScreen[None]):
    AUTO_FOCUS = "#recipients"
    # A receptionist's day here: find the patient who called, record their opt-out, add
    # or take off a patient, start or stop the sending, the ledger for the office. The
    # footer shows the keys in this order; at 80 columns the last ones do not fit (in
    # French from the ledger's export on, in English from the test send on): `?` lists
    # every one (and the status line says so). ⏎ Detail is said under the table too.
    FOOTER_ORDER = (
        "recipients.search",
        "recipients.to_table",  # shown only in the search box, where `/` types a letter
        "recipients.opt_out",
        "recipients.add",
        "recipients.remove",
        "recipients.start",
        "recipients.stop",
        "recipients.export",
        "recipients.detail",
        "recipients.test",
        "recipients.reinvite",
        "recipients.template",
        "recipients.edit",
        "recipients.refresh",
        "recipients.back",
    )
    # One list: a new key is a Binding here, an `action_…` below and a palette line.
    BINDINGS = [
        Binding("a", "add", N_("Add"), tooltip=N_("Add patients to the campaign"), id="recipients.add"),
        Binding(
            "s", "start", N_("Start"), tooltip=N_("Send to every recipient not yet sent to"), id="recipients.start"
        ),
        Binding("S", "stop_sending", N_("Stop"), tooltip=N_("Cancel what was not sent yet"), id="recipients.stop"),
        Binding("T", "test_send", N_("Test"), tooltip=N_("Send yourself a test"), id="recipients.test"),
        Binding(
            "enter",
            "detail",
            N_("Detail"),
            tooltip=N_("Everything about the selected recipient"),
            id="recipients.detail",
        ),
        Binding(
            "x",
            "remove",
            N_("Remove"),
            tooltip=N_("Take the selected patient off the campaign"),
            id="recipients.remove",
        ),
        Binding("o", "opt_out", N_("Opt-out"), tooltip=N_("Record the patient's opt-out"), id="recipients.opt_out"),
        Binding(
            "i", "reinvite", N_("Re-invite"), tooltip=N_("A fresh invitation to the expired"), id="recipients.reinvite"
        ),
        Binding(
            "slash", "search", N_("Search"), tooltip=N_("Find a recipient by name or EMR id"), id="recipients.search"
        ),
        Binding("E", "export", N_("Export"), tooltip=N_("The ledger to a CSV file"), id="recipients.export"),
        Binding("t", "template", N_("Template"), tooltip=N_("Edit the messages"), id="recipients.template"),
        Binding("e", "edit", N_("Edit"), tooltip=N_("Edit the campaign's details"), id="recipients.edit"),
        Binding("r", "refresh", N_("Refresh"), id="recipients.refresh"),
        # from the search box to the rows it found, as ↓ goes to the results in the
        # add-patients dialog (enter too: `_search_done`); active and shown only there
        # (`check_action`), before the box's own ↓ (it scrolls nothing): priority
        Binding("down", "to_table", N_("To the list"), key_display="↓", priority=True, id="recipients.to_table"),
        Binding("escape", "back", N_("Back"), key_display="esc", id="recipients.back"),
    ]

    def __init__(self, campaign_id: int) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.summary: campaigns.CampaignSummary | None = None
        self.acts: campaigns.CampaignHistory | None = None  # who created, started, stopped it
        self._ticks = 0
        self.sending = SendingControl(self, self)
        self.opt_outs = OptOutFlow(self, recorded=self.opt_out_recorded)
        self.flows = RecipientFlows(self)

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield Static(id="campaign-info")
        yield Static(id="counts")
        with Horizontal(id="progress-row", classes="hidden"):
            yield Static(id="progress-label")
            yield ProgressBar(id="progress", show_eta=False)
        search = TextInput(placeholder=self._placeholder(), id="search", classes="hidden")
        search.border_subtitle = self._search_keys()
        yield search
        yield RecipientTable(self.campaign_id, id="recipients")
        yield Static(id="table-note")
        yield StatusLine()
        yield KeysFooter(show_command_palette=False)

    @staticmethod
    def _placeholder() -> str:
        return _("search by name or EMR id…")

    @staticmethod
    def _search_keys() -> str:
        """Under the search box, seen while typing (in the placeholder they did not fit
        80 columns in French, and went as soon as a letter was typed)."""
        return _("↓ or enter: to the list · escape: clear")

    @property
    def table(self) -> RecipientTable:
        return self.query_one(RecipientTable)

    def title_text(self) -> str:
        return self.summary.name if self.summary is not None else _("Campaign")

    def relabel(self) -> None:
        """Every word again in the language now in use (the palette's switch)."""
        super().relabel()
        box = self.query_one("#search", Input)
        box.placeholder = self._placeholder()
        box.border_subtitle = self._search_keys()
        self.table.relabel()
        if self.summary is not None:
            self._show_summary(self.summary)
        self._note()

    def on_mount(self) -> None:
        self.title = self.title_text()
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
        if self.summary is not None:
            self._show_summary(self.summary)  # the header's lines flow to the new width

    # --- reading -------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="summary")
    async def load_summary(self) -> None:
        s, acts = await asyncio.to_thread(self._read_summary)
        old = self.summary
        # an opt-out recorded since (here or elsewhere) changes what a row says, not its status
        changed = old is None or (old.counts, old.status, old.facts) != (s.counts, s.status, s.facts)
        self.summary, self.acts = s, acts
        self._show_summary(s)
        self.refresh_bindings()  # the keys that apply to this kind (re-invite: an invitation)
        if changed and self.table.order:
            self.table.reload_shown()

    def _read_summary(self) -> tuple[campaigns.CampaignSummary, campaigns.CampaignHistory]:
        ctx = self.app.ctx
        # whether anything sends what waits: a daemon alive, or this session's embedded scheduler
        summary = campaigns.summary(ctx, self.campaign_id, self.app.scheduler)
        return summary, campaigns.history(ctx, self.campaign_id)

    def _show_summary(self, s: campaigns.CampaignSummary) -> None:
        self.title = s.name
        # Both lines flow onto a second one rather than cut (at 80 columns in French a
        # count lost its number: « écarté 2… »): a line breaks between two parts only
        width = (self.size.width or self.app.size.width) - 2  # their padding
        kind = _("{kind} by {channel}").format(kind=word("kind", s.kind), channel=word("channel", s.channel))
        info = [
            ("", Text(kind, style="bold")),
            (" · ", Text(word("campaign", s.status), style=fmt.CELL_STYLE.get(s.status, ""))),
        ]
        if s.kind == Kind.BROADCAST and s.starts_on:
            window = Text(_("window") + " ")
            window.append(word("window", s.window_state), style=fmt.CELL_STYLE.get(s.window_state or "", ""))
            info.append((" · ", window))
            days = _("{start} → {end}").format(start=fmt.short_day(s.starts_on), end=fmt.short_day(s.ends_on))
            info.append((" ", Text(days)))
        elif s.funnel is not None and s.funnel.get("invited"):
            info.append((" · ", Text(funnel_steps(s.funnel))))
        if s.archived:
            info.append((" · ", Text(_("archived"), style="dim")))
        # who created, started and stopped it, and when: « who sent this? » answered here,
        # as `campaigns show` answers it (core.campaigns.history)
        if self.acts is not None:
            tz = self.app.ctx.config.clinic.tz
            info.extend((" · ", Text(line, style="dim")) for line in self.acts.lines(tz, short=True))
        self.query_one("#campaign-info", Static).update(fmt.flowed(info, width))

        # the total first, then the words that add up to it, each with its number; the
        # removed are said apart, outside it
        counts = [("", Text(_("total {n}").format(n=fmt.num(s.total)), style="bold"))]
        sep = "   "
        for status, n in s.shown_counts():
            if not n and status not in (RecipientStatus.ASSIGNED, RecipientStatus.SENT):
                continue
            count = Text()
            count.append(word("recipient", status) + " ", style="dim" if not n else fmt.CELL_STYLE.get(status, ""))
            count.append(fmt.num(n), style="bold" if n else "dim")
            counts.append((sep, count))
            sep = "  "
        if s.removed:
            removed = ngettext("(+{n} removed, not counted)", "(+{n} removed, not counted)", s.removed)
            counts.append((" ", Text(removed.format(n=fmt.num(s.removed)), style="dim")))
        self.query_one("#counts", Static).update(fmt.flowed(counts, width))

        in_flight = s.counts.get("queued", 0) + s.counts.get("retrying", 0)
        row = self.query_one("#progress-row")
        if in_flight:
            done = s.counts.get("sent", 0) + s.counts.get("failed", 0)
            bar = self.query_one(ProgressBar)
            bar.update(total=done + in_flight, progress=done)
            label = _("Sending: {done} of {total} done").format(done=fmt.num(done), total=fmt.num(done + in_flight))
            if s.held:  # core's words: emails or pushes, the window or sending hours, or nothing sends
                label = s.held
            self.query_one("#progress-label", Static).update(label + " ")
        row.set_class(not in_flight, "hidden")
        row.set_class(bool(in_flight and s.held), "held")

    def _search_text(self) -> str:
        return self.query_one("#search", Input).value.strip()

    @on(RecipientTable.Shown)
    def _note(self) -> None:
        note = self.query_one("#table-note", Static)
        search = self._search_text()
        table = self.table
        if not table.order:
            if search:
                note.update(_("No recipient matches “{search}”.").format(search=search))
            else:
                note.update(_("No recipients yet — press {key} to add patients.").format(key=self.key_for("add")))
            return
        n = len(table.order)
        parts = [
            ngettext("{n} shown", "{n} shown", n).format(n=fmt.num(n)),
            _("enter: everything about the selected one"),
        ]
        if table.more:
            parts.append(_("more below"))
        if search:
            parts.append(_("search “{search}”").format(search=search))
        note.update(" · ".join(parts))

    def selected_row(self) -> recipients.RecipientRow | None:
        return self.table.selected_row()

    def _tick(self) -> None:
        if not self.is_current or self.summary is None:
            return
        self._ticks += 1
        sending = self.summary.counts.get("queued", 0) + self.summary.counts.get("retrying", 0)
        if sending or self._ticks % 5 == 0:
            self.load_summary()

    def changed(self) -> None:
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

    def action_to_table(self) -> None:
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
        if self.summary is not None:  # the dialog, once open, takes the keys: no second one
            self.flows.add(self.summary.kind)

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
            self.notify(_("{name} was already removed").format(name=r.name), markup=False, timeout=3)
            return
        self.flows.remove(r)

    def action_opt_out(self) -> None:
        r = self.selected_row()
        if r is not None and not self.opt_outs.running():
            self.opt_outs.ask(r.emr_id, r.name)

    def opt_out_recorded(self, done: Recorded) -> None:
        self.changed()

    def action_export(self) -> None:
        if not self.running("export"):
            self.flows.export()

    def action_start(self) -> None:
        if self.summary is not None and not self.running("start"):
            self.flows.start(self.summary)

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
        return self.summary.name if self.summary else _("campaign #{id}").format(id=self.campaign_id)

    def unsaved_changes(self) -> bool:
        return False

    def test_patient(self) -> tuple[str, int | None]:
        r = self.selected_row()
        return (r.emr_id, None) if r is not None else ("", None)

    def sending_changed(self) -> None:
        self.changed()

    def check_action(self, action: str, parameters) -> bool | None:
        """Only what applies: a broadcast has no invitation to re-invite."""
        if action == "reinvite":
            return self.summary is None or self.summary.kind == Kind.INVITATION
        if action == "to_table":  # the search box's key: elsewhere ↓ is the list's own
            return self.focused is self.query_one("#search", Input)
        return True

    def palette_commands(self):
        return [
            (name, help_text, callback)
            for name, help_text, callback in self._palette()
            if self.check_action(callback.__name__.removeprefix("action_"), ())
        ]

    def _palette(self):
        return [
            (_("Add patients"), _("One patient, by conditions, or from a CSV file"), self.action_add),
            (_("Start the campaign"), _("Send to every recipient not yet sent to"), self.action_start),
            (_("Edit the template"), _("The messages, in French and English"), self.action_template),
            (_("Edit the campaign's details"), _("Name, window"), self.action_edit),
            (
                _("Remove the selected recipient"),
                _("They will not receive it / it leaves their feed"),
                self.action_remove,
            ),
            (
                _("Stop sending ({key})").format(key=self.key_for("stop_sending")),
                _("Cancel what was not sent yet; a later start sends it"),
                self.action_stop_sending,
            ),
            (
                _("Send me a test ({key})").format(key=self.key_for("test_send")),
                _("The message as the selected patient gets it"),
                self.action_test_send,
            ),
            (
                _("Re-invite the expired ({key})").format(key=self.key_for("reinvite")),
                _("A fresh invitation to those who did not join"),
                self.action_reinvite,
            ),
            (_("Refresh"), _("Read the recipients again"), self.action_refresh),
        ]
