"""The campaign detail form (SPEC §2): kind when creating, name, broadcast window.

Every keystroke is checked by the core's own validation (in a worker, since the name
must be unique) and the problem is shown under the field; ctrl+o (or ctrl+s) saves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Header, Input, RadioButton, RadioSet, Static

from core import campaigns, drafts
from core.campaigns.actions import NAME_MAX, parse_day
from core.enums import Kind
from core.errors import BadInput
from core.i18n import N_, _
from core.textcheck import quoted_value
from core.words import word
from tui.screens.drafts import DraftOffer, draft_bindings, draft_line
from tui.screens.modals import leave_unless_unsaved
from tui.typeahead import typed_first
from tui.widgets.choice import Choice
from tui.widgets.footer import KeysFooter
from tui.widgets.status_line import StatusLine
from tui.widgets.text_input import TextInput

CHANNEL_TEXT = {
    "invitation": N_("email — an invitation to join the patient app"),
    "broadcast": N_("app — a message in the Broadcasts feed, with a push notification"),
}
# each field's label (an English msgid, translated where shown)
DRAFT_FIELDS = ("kind", "name", "starts_on", "ends_on")  # a draft's fields, as _values() gives them
LABELS = {
    "kind": N_("Kind"),
    "channel": N_("Channel"),
    "name": N_("Name"),
    "starts_on": N_("First day"),
    "ends_on": N_("Last day"),
    "validity": N_("Valid for"),
}


def _placeholders() -> dict[str, str]:
    return {
        "name": _("internal, never shown to patients"),
        "starts_on": _("YYYY-MM-DD — the message shows from this day"),
        "ends_on": _("YYYY-MM-DD — shown until the end of this day"),
    }


def _field(label: str, *widgets, field_id: str, classes: str = "") -> Horizontal:
    return Horizontal(
        Static(_(label), classes="label"),
        Vertical(*widgets, classes="value"),
        classes=f"field {classes}".strip(),
        id=f"field-{field_id}",
    )


class CampaignDetailScreen(DraftOffer[int | None]):
    """Returns the id of the created or edited campaign, or None when cancelled."""

    draft_form = drafts.CAMPAIGN
    BINDINGS = [
        *draft_bindings("detail"),  # while a draft is offered (tui/screens/drafts.py)
        Binding("ctrl+o,ctrl+s", "save", N_("Save"), tooltip=N_("Save the campaign"), priority=True, id="detail.save"),
        Binding(
            "escape", "cancel", N_("Back"), tooltip=N_("Leave without saving"), key_display="esc", id="detail.cancel"
        ),
    ]

    def __init__(self, campaign_id: int | None) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.kind = "invitation"
        self.loaded: tuple[str, str, str, str] | None = None  # the values as shown first (escape compares)
        self.name_loaded = ""  # the campaign's name, once read (the title shows it)

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield draft_line()
        creating = self.campaign_id is None
        placeholders = _placeholders()
        with VerticalScroll(classes="form", id="detail-form"):
            if creating:
                yield _field(
                    LABELS["kind"],
                    Choice(
                        RadioButton(_("Invitation (email)"), value=True, id="kind-invitation"),
                        RadioButton(_("Broadcast (in the app)"), id="kind-broadcast"),
                        id="kind",
                        compact=True,
                    ),
                    Static(id="error-kind", classes="error"),
                    field_id="kind",
                )
            else:
                yield _field(LABELS["kind"], Static(id="kind-ro", classes="readonly"), field_id="kind")
            yield _field(LABELS["channel"], Static(id="channel", classes="readonly"), field_id="channel")
            yield _field(
                LABELS["name"],
                TextInput(
                    placeholder=placeholders["name"],
                    id="name",
                    max_length=NAME_MAX,
                    compact=True,
                ),
                Static(id="error-name", classes="error"),
                field_id="name",
            )
            yield _field(
                LABELS["starts_on"],
                TextInput(
                    placeholder=placeholders["starts_on"],
                    id="starts_on",
                    max_length=10,
                    compact=True,
                ),
                Static(id="error-starts_on", classes="error"),
                field_id="starts_on",
                classes="broadcast-only",
            )
            yield _field(
                LABELS["ends_on"],
                TextInput(
                    placeholder=placeholders["ends_on"],
                    id="ends_on",
                    max_length=10,
                    compact=True,
                ),
                Static(id="error-ends_on", classes="error"),
                field_id="ends_on",
                classes="broadcast-only",
            )
            yield _field(
                LABELS["validity"],
                Static(self._validity(), id="validity", classes="readonly"),
                field_id="validity",
                classes="invitation-only",
            )
            yield Static(id="form-hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button(_("Cancel"), id="cancel", compact=True)
                yield Button(_("Save  ctrl+o"), id="save", variant="primary", compact=True)
        yield StatusLine()
        yield KeysFooter(show_command_palette=False)

    @staticmethod
    def _validity() -> str:
        return _("{days} days from the email's sending (fixed)").format(days=campaigns.INVITATION_VALID_DAYS)

    def title_text(self) -> str:
        if self.campaign_id is None:
            return _("New campaign")
        if self.name_loaded:
            return _("Edit campaign · {name}").format(name=self.name_loaded)
        return _("Edit campaign")

    def relabel(self) -> None:
        super().relabel()
        for key, label in LABELS.items():
            for field in self.query(f"#field-{key}"):
                field.query_one(".label", Static).update(_(label))
        for key, text in _placeholders().items():
            self.query_one(f"#{key}", Input).placeholder = text
        for radio in self.query("#kind-invitation").results(RadioButton):
            radio.label = _("Invitation (email)")
        for radio in self.query("#kind-broadcast").results(RadioButton):
            radio.label = _("Broadcast (in the app)")
        self.query_one("#validity", Static).update(self._validity())
        self.query_one("#cancel", Button).label = _("Cancel")
        self.query_one("#save", Button).label = _("Save  ctrl+o")
        if self.loaded is not None:
            self._apply_kind(self.kind)
        self.show_offer()

    def on_mount(self) -> None:
        self.title = self.title_text()
        if self.campaign_id is None:
            self._apply_kind("invitation")
            self.loaded = self._values()
            self.query_one("#kind", RadioSet).focus()
            self._offer_new()
        else:
            self.query_one("#detail-form").loading = True
            self._load(self.campaign_id)

    # --- loading -------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="detail")
    async def _load(self, campaign_id: int) -> None:
        c = await asyncio.to_thread(campaigns.get, campaign_id)
        self.query_one("#detail-form").loading = False
        self.name_loaded = c.name
        self.title = self.title_text()
        self._apply_kind(c.kind)
        name = self.query_one("#name", Input)
        name.value = c.name
        self.query_one("#starts_on", Input).value = c.starts_on.isoformat() if c.starts_on else ""
        self.query_one("#ends_on", Input).value = c.ends_on.isoformat() if c.ends_on else ""
        self.loaded = self._values()
        name.focus()
        self.offer_draft(await self.read_draft())

    @work(exclusive=True, exit_on_error=False, group="detail")
    async def _offer_new(self) -> None:
        self.offer_draft(await self.read_draft())

    # --- a draft left by a session that ended (tui/screens/drafts.py) ------------------

    def draft_campaign(self) -> int | None:
        return self.campaign_id

    def draft_values(self) -> drafts.Values:
        return {"campaign": dict(zip(DRAFT_FIELDS, self._values(), strict=True))}

    def draft_saved(self) -> drafts.Values:
        return {"campaign": dict(zip(DRAFT_FIELDS, self.loaded or ("", "", "", ""), strict=True))}

    def put_draft(self, values: drafts.Values) -> None:
        typed = values["campaign"]
        if self.campaign_id is None and typed["kind"] in (Kind.INVITATION, Kind.BROADCAST):
            self.query_one(f"#kind-{typed['kind']}", RadioButton).value = True
            self._apply_kind(typed["kind"])
        for key in ("name", "starts_on", "ends_on"):
            if typed[key] or self.kind == Kind.BROADCAST:  # an invitation's dates are not shown
                self.query_one(f"#{key}", Input).value = typed[key]

    def _apply_kind(self, kind: str) -> None:
        self.kind = kind
        self.query_one("#channel", Static).update(_(CHANNEL_TEXT[kind]))
        for shown in self.query("#kind-ro").results(Static):
            shown.update(word("kind", kind))
        for w in self.query(".broadcast-only"):
            w.display = kind == Kind.BROADCAST
        for w in self.query(".invitation-only"):
            w.display = kind == Kind.INVITATION
        hint = (
            _(
                "A new invitation starts with the default message in French and English; "
                "edit it with t from the campaign."
            )
            if kind == Kind.INVITATION
            else _("After saving, write the message (t) and add patients (a) from the campaign.")
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
                problems[key] = str(e).partition(": ")[2] or _("expected a date YYYY-MM-DD (got {value})").format(
                    value=quoted_value(value)
                )
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

    @typed_first
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
            self.notify(_("Not saved: see the message under the field"), severity="error", timeout=4)
            return
        ctx, starts_on, ends_on = self.app.ctx, starts or None, ends or None
        if self.campaign_id is None:
            c = await asyncio.to_thread(campaigns.create, ctx, kind, name, starts_on=starts_on, ends_on=ends_on)
        else:
            c = await asyncio.to_thread(
                campaigns.edit, ctx, self.campaign_id, name=name, starts_on=starts_on, ends_on=ends_on
            )
        self.draft_saved_now()
        done = _("Campaign “{name}” created") if self.campaign_id is None else _("Campaign “{name}” saved")
        self.notify(done.format(name=c.name), markup=False, timeout=3)
        self.dismiss(c.id)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    def changed(self) -> bool:
        return self.loaded is not None and self._values() != self.loaded

    def unsaved(self) -> Callable[[], str] | None:
        if not self.changed():
            return None
        return (lambda: _("the new campaign")) if self.campaign_id is None else (lambda: _("the campaign's details"))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        leave_unless_unsaved(self, lambda: self.dismiss(None))
