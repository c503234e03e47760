"""The campaign detail form (SPEC §2): kind when creating, name, broadcast window.

Every keystroke is checked by the core's own validation (in a worker, since the name
must be unique) and the problem is shown under the field; ctrl+s saves.
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, RadioButton, RadioSet, Static

from core import campaigns
from core.campaigns.actions import NAME_MAX, parse_day
from core.enums import Kind
from core.errors import BadInput
from tui.screens.base import ClinicastScreen
from tui.widgets.choice import Choice
from tui.widgets.status_line import StatusLine

CHANNEL_TEXT = {
    "invitation": "email — an invitation to join the patient app",
    "broadcast": "app — a message in the Broadcasts feed, with a push notification",
}


def _field(label: str, *widgets, field_id: str, classes: str = "") -> Horizontal:
    return Horizontal(
        Static(label, classes="label"),
        Vertical(*widgets, classes="value"),
        classes=f"field {classes}".strip(),
        id=f"field-{field_id}",
    )


class CampaignDetailScreen(ClinicastScreen[int | None]):
    """Returns the id of the created or edited campaign, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Save the campaign", priority=True, id="detail.save"),
        Binding("escape", "cancel", "Back", tooltip="Leave without saving", key_display="esc", id="detail.cancel"),
    ]

    def __init__(self, campaign_id: int | None) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.kind = "invitation"

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        creating = self.campaign_id is None
        with VerticalScroll(classes="form", id="detail-form"):
            if creating:
                yield _field(
                    "Kind",
                    Choice(
                        RadioButton("Invitation (email)", value=True, id="kind-invitation"),
                        RadioButton("Broadcast (in the app)", id="kind-broadcast"),
                        id="kind",
                        compact=True,
                    ),
                    Static(id="error-kind", classes="error"),
                    field_id="kind",
                )
            else:
                yield _field("Kind", Static(id="kind-ro", classes="readonly"), field_id="kind")
            yield _field("Channel", Static(id="channel", classes="readonly"), field_id="channel")
            yield _field(
                "Name",
                Input(
                    placeholder="internal, never shown to patients",
                    id="name",
                    max_length=NAME_MAX,
                    compact=True,
                ),
                Static(id="error-name", classes="error"),
                field_id="name",
            )
            yield _field(
                "First day",
                Input(
                    placeholder="YYYY-MM-DD — the message shows from this day",
                    id="starts_on",
                    max_length=10,
                    compact=True,
                ),
                Static(id="error-starts_on", classes="error"),
                field_id="starts_on",
                classes="broadcast-only",
            )
            yield _field(
                "Last day",
                Input(
                    placeholder="YYYY-MM-DD — shown until the end of this day",
                    id="ends_on",
                    max_length=10,
                    compact=True,
                ),
                Static(id="error-ends_on", classes="error"),
                field_id="ends_on",
                classes="broadcast-only",
            )
            yield _field(
                "Valid for",
                Static(f"{campaigns.INVITATION_VALID_DAYS} days from the email's sending (fixed)", classes="readonly"),
                field_id="validity",
                classes="invitation-only",
            )
            yield Static(id="form-hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save  ctrl+s", id="save", variant="primary", compact=True)
        yield StatusLine()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if self.campaign_id is None:
            self.title = "New campaign"
            self._apply_kind("invitation")
            self.query_one("#kind", RadioSet).focus()
        else:
            self.title = "Edit campaign"
            self.query_one("#detail-form").loading = True
            self._load(self.campaign_id)

    # --- loading -------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="detail")
    async def _load(self, campaign_id: int) -> None:
        c = await asyncio.to_thread(campaigns.get, campaign_id)
        self.query_one("#detail-form").loading = False
        self.title = f"Edit campaign · {c.name}"
        self._apply_kind(c.kind)
        self.query_one("#kind-ro", Static).update(c.kind)
        name = self.query_one("#name", Input)
        name.value = c.name
        self.query_one("#starts_on", Input).value = c.starts_on.isoformat() if c.starts_on else ""
        self.query_one("#ends_on", Input).value = c.ends_on.isoformat() if c.ends_on else ""
        name.focus()

    def _apply_kind(self, kind: str) -> None:
        self.kind = kind
        self.query_one("#channel", Static).update(CHANNEL_TEXT[kind])
        for w in self.query(".broadcast-only"):
            w.display = kind == Kind.BROADCAST
        for w in self.query(".invitation-only"):
            w.display = kind == Kind.INVITATION
        hint = (
            "A new invitation starts with the default message in French and English; edit it with t from the campaign."
            if kind == Kind.INVITATION
            else "After saving, write the message (t) and add patients (a) from the campaign."
        )
        self.query_one("#form-hint", Static).update(hint if self.campaign_id is None else "")

    @on(RadioSet.Changed, "#kind")
    def _kind_changed(self, event: RadioSet.Changed) -> None:
        self._apply_kind("broadcast" if event.pressed.id == "kind-broadcast" else "invitation")
        self._validate_soon()

    # --- inline validation ---------------------------------------------------------

    def _values(self) -> tuple[str, str, str, str]:
        return (
            self.kind,
            self.query_one("#name", Input).value,
            self.query_one("#starts_on", Input).value.strip() if self.kind == Kind.BROADCAST else "",
            self.query_one("#ends_on", Input).value.strip() if self.kind == Kind.BROADCAST else "",
        )

    @on(Input.Changed)
    def _validate_soon(self) -> None:
        self._validate(*self._values())

    @work(exclusive=True, exit_on_error=False, group="validate")
    async def _validate(self, kind, name, starts, ends) -> None:
        problems = await asyncio.to_thread(self._problems, kind, name, starts, ends)
        self._show_problems(problems, only_touched=True)

    def _problems(self, kind, name, starts, ends) -> dict[str, str]:
        """The core's own checks: date format first, then validate_fields."""
        problems: dict[str, str] = {}
        days = {}
        for key, value in (("starts_on", starts), ("ends_on", ends)):
            try:
                days[key] = parse_day(value, key)
            except BadInput as e:  # core.dates' words: format, real day, or 1900..2200 range
                problems[key] = str(e).partition(": ")[2] or f"expected a date YYYY-MM-DD (got {value!r})"
                days[key] = None
        found = campaigns.validate_fields(kind, name, days["starts_on"], days["ends_on"], campaign_id=self.campaign_id)
        for key, msg in found.items():
            problems.setdefault(key, msg)
        return problems

    def _show_problems(self, problems: dict[str, str], only_touched: bool = False) -> None:
        for key in ("kind", "name", "starts_on", "ends_on"):
            label = self.query(f"#error-{key}")
            if not label:
                continue
            msg = problems.get(key, "")
            if only_touched and msg and key in ("starts_on", "ends_on", "name"):
                # no red text under a field nobody has typed in yet
                if not self.query_one(f"#{key}", Input).value:
                    msg = ""
            label.first(Static).update(msg)
            label.first(Static).display = bool(msg)

    # --- saving --------------------------------------------------------------------

    def action_save(self) -> None:
        if not self.running("save"):
            self.save_flow(*self._values())

    @work(exclusive=True, exit_on_error=False, group="save")
    async def save_flow(self, kind: str, name: str, starts: str, ends: str) -> None:
        problems = await asyncio.to_thread(self._problems, kind, name, starts, ends)
        if problems:
            self._show_problems(problems)
            first = next(iter(problems))
            target = self.query(f"#{first}")
            if target:
                target.first().focus()
            self.notify("Not saved: see the message under the field", severity="error", timeout=4)
            return
        ctx, starts_on, ends_on = self.app.ctx, starts or None, ends or None
        if self.campaign_id is None:
            c = await asyncio.to_thread(campaigns.create, ctx, kind, name, starts_on=starts_on, ends_on=ends_on)
        else:
            c = await asyncio.to_thread(
                campaigns.edit, ctx, self.campaign_id, name=name, starts_on=starts_on, ends_on=ends_on
            )
        verb = "created" if self.campaign_id is None else "saved"
        self.notify(f"Campaign “{c.name}” {verb}", markup=False, timeout=3)
        self.dismiss(c.id)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
