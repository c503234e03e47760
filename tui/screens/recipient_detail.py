"""`enter` on a recipient: everything about them in a panel — each field, the reason in
full (the table cuts it at 80 columns), attempts, last error, next attempt, and the
history of their deliveries (core.recipients.detail, an audited read)."""

from __future__ import annotations

import asyncio

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from core import recipients
from core.enums import Language
from core.i18n import N_, _
from core.words import word
from tui import format as fmt
from tui.screens.base import ClinicastModal
from tui.widgets.footer import KeysFooter

# a patient's language, in words
_LANGUAGES = {Language.FR: N_("French"), Language.EN: N_("English")}


def _word(words: dict, code: str) -> str:
    """The words for a stored code; a code from a newer version as it is."""
    found = words.get(code)
    return _(found) if found else code


class RecipientDetailModal(ClinicastModal[None]):
    BINDINGS = [Binding("escape,enter", "dismiss(None)", N_("Close"), key_display="esc", id="recipient-detail.close")]

    def __init__(self, campaign_id: int, recipient_id: int) -> None:
        super().__init__()
        self.campaign_id, self.recipient_id = campaign_id, recipient_id
        self.detail: recipients.RecipientDetail | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="recipient-detail-dialog") as box:
            box.border_title = _("Recipient")
            with VerticalScroll(id="recipient-detail-scroll"):
                yield Static(id="recipient-detail-body")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#recipient-detail-scroll").loading = True
        self._load()

    @work(exclusive=True, exit_on_error=False, group="recipient-detail")
    async def _load(self) -> None:
        d = await asyncio.to_thread(recipients.detail, self.app.ctx, self.campaign_id, self.recipient_id)
        self.detail = d
        self.query_one("#recipient-detail-scroll").loading = False
        self.query_one("#recipient-detail-dialog").border_title = f"{d.name} · {d.emr_id}"
        self.query_one("#recipient-detail-body", Static).update(self.render_detail(d))
        self.query_one("#recipient-detail-scroll").focus()

    def relabel(self) -> None:
        """The panel again in the language now in use (the palette's switch)."""
        super().relabel()
        if self.detail is not None:
            self.query_one("#recipient-detail-body", Static).update(self.render_detail(self.detail))

    def render_detail(self, d: recipients.RecipientDetail) -> Table:
        tz = self.app.ctx.config.clinic.tz
        t = Table.grid(padding=(0, 1))
        t.add_column(style="dim", justify="right", no_wrap=True)
        t.add_column(overflow="fold")

        def when(moment) -> str:
            """A moment whole on its line: the panel wraps between items, never inside one."""
            return fmt.unbroken(fmt.when(moment, tz))

        def row(label: str, value: object) -> None:
            if value not in (None, ""):
                t.add_row(label, value if isinstance(value, Text) else Text(str(value)))

        # between a line's items: a line may break after the dot, never before it
        sep = "\u00a0· "
        shown = d.shown_status  # the ledger's words for it (core)
        row(_("Status"), Text(word("recipient", shown), style=fmt.CELL_STYLE.get(shown, "")))
        row(_("Reason"), d.reason)
        row(_("Attempts"), d.attempts)
        row(_("Last error"), Text(d.last_error, style="red") if d.last_error else "")
        row(_("Next attempt"), when(d.next_attempt_at))
        row(_("Added"), when(d.added_at) + (f"{sep}{d.added_by}" if d.added_by else ""))
        row(_("Queued"), when(d.queued_at))
        row(_("Sent"), when(d.sent_at))
        row(_("First copy"), when(d.first_copy_at))  # maybe twice: its answer never came
        row(_("Removed"), when(d.removed_at))
        row(_("In the feed"), _("yes") if d.in_feed else "")
        row(_("Invitation expires"), when(d.invitation_expires_at))
        row(_("Joined the app"), when(d.joined_at))
        row(_("Language"), _word(_LANGUAGES, d.language) if d.language else "")
        row(_("Email"), d.email)
        row(_("App account"), d.app_id)
        for i, o in enumerate(d.opt_outs):
            # when, from where, by whom: set beside « Sent », it says which came first
            text = Text(f"{word('channel', o.channel)}{sep}{when(o.at)}{sep}")
            by = o.origin()
            text.append(fmt.unbroken(by))
            if o.note:
                text.append(f" — {o.note}")  # as `patients show` writes it
            if o.active:
                text.append(sep + _("active"), style="yellow")
            else:
                undone = _("undone {day} by {login}: {note}").format(
                    day=when(o.cleared_at), login=o.cleared_by, note=o.cleared_note
                )
                text.append(f"{sep}{undone}", style="dim")
            t.add_row(_("Opt-outs") if i == 0 else "", text)
        if d.deliveries:
            t.add_row("", "")
            t.add_row(_("Deliveries"), Text(_("kind · status · written · attempts · sent"), style="dim"))
            for line in d.deliveries:
                text = Text(f"{word('delivery kind', line.kind)}{sep}")
                text.append(word("delivery", line.status), style=fmt.CELL_STYLE.get(line.status, ""))
                text.append(f"{sep}{when(line.created_at)}{sep}{line.attempts}")
                if line.sent_at:
                    text.append(f"{sep}{when(line.sent_at)}")
                elif line.due_at and line.status == "pending":
                    due = fmt.unbroken(_("due {when}").format(when=when(line.due_at)))  # « prévu » with its date
                    text.append(sep + due, style="yellow")
                if line.error:
                    text.append(f"\n{line.error}", style="red")
                t.add_row("", text)
        return t
