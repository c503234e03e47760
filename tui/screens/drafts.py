"""A form's draft (core/drafts.py), shown: the template editor and the campaign form keep
their unsaved text when the session ends without the staff choosing to lose it, and
offer it back in one line above their fields, f7 restoring it (as unsaved changes),
f8 deleting it. The screen says what its text is (`draft_values`, `draft_saved`,
`put_draft`); the rules — where the draft lives, who reads it — are core's."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from textual.binding import Binding
from textual.widgets import Static

from core import drafts
from core.i18n import N_, _
from tui.screens.base import ClinicastScreen

ResultT = TypeVar("ResultT")
ACTIONS = ("restore_draft", "discard_draft")


def draft_bindings(screen: str) -> list[Binding]:
    """f7 / f8, shown only while a draft is offered; ids "<screen>.restore_draft"…"""
    return [
        Binding(
            "f7",
            "restore_draft",
            N_("Restore"),
            tooltip=N_("Put the unsaved changes back (not saved yet)"),
            id=f"{screen}.restore_draft",
        ),
        Binding(
            "f8", "discard_draft", N_("Discard draft"), tooltip=N_("Delete the draft"), id=f"{screen}.discard_draft"
        ),
    ]


def draft_line() -> Static:
    """The line that asks (hidden while there is nothing to offer)."""
    return Static(id="draft-offer", classes="hidden", markup=False)


class DraftOffer(ClinicastScreen[ResultT]):
    """A screen whose unsaved text outlives its session as a draft."""

    draft_form = drafts.TEMPLATE  # core.drafts.TEMPLATE or CAMPAIGN

    def __init__(self) -> None:
        super().__init__()
        self.draft: drafts.Draft | None = None  # offered, not yet restored or discarded
        self._draft_restored = False  # the text on show is a draft's: leaving without it deletes it
        self._leaving = False  # the staff chose to lose the unsaved changes: no draft is kept

    # --- the screen's part -------------------------------------------------------------

    def draft_campaign(self) -> int | None:
        """The campaign the form edits (None: a new one)."""
        raise NotImplementedError

    def draft_values(self) -> drafts.Values:
        """The text on show, every field."""
        raise NotImplementedError

    def draft_saved(self) -> drafts.Values:
        """The same fields as saved (as first shown)."""
        raise NotImplementedError

    def put_draft(self, values: drafts.Values) -> None:
        """A draft's text in the fields."""
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------

    async def read_draft(self) -> drafts.Draft | None:
        return await asyncio.to_thread(drafts.read, self.app.ctx, self.draft_form, self.draft_campaign())

    def offer_draft(self, draft: drafts.Draft | None) -> None:
        """A draft of this form: asked about in one line above the fields, f7 / f8 in the
        footer. One that differs in nothing from the saved text is moot, and deleted."""
        if draft is not None and self._same_fields(draft.values) == self.draft_saved():
            drafts.discard(self.app.ctx, self.draft_form, self.draft_campaign())
            draft = None
        self.draft = draft
        self.show_offer()

    def _same_fields(self, values: drafts.Values) -> drafts.Values:
        """`values` over the fields the form has now (a field gone since is dropped)."""
        return {
            part: {f: values.get(part, {}).get(f, "") for f in fields} for part, fields in self.draft_saved().items()
        }

    def show_offer(self) -> None:
        """The line, in the language in use (a screen's relabel calls it too)."""
        line = self.query_one("#draft-offer", Static)
        line.update(drafts.offer(self.app.ctx, self.draft, self.draft_saved()) if self.draft is not None else "")
        line.set_class(self.draft is None, "hidden")
        self.refresh_bindings()

    def check_action(self, action: str, parameters) -> bool | None:
        """f7 / f8 only while a draft is offered; the screen's own actions as it says."""
        if action in ACTIONS:
            return self.draft is not None
        return super().check_action(action, parameters)

    def action_restore_draft(self) -> None:
        """f7: the draft's text back in the fields, as unsaved changes (ctrl+o saves them)."""
        if self.draft is None:
            return
        self.put_draft(self._same_fields(self.draft.values))
        self.draft, self._draft_restored = None, True
        self.show_offer()
        self.notify(_("Unsaved changes restored: not saved yet"), timeout=4)

    def action_discard_draft(self) -> None:
        """f8: the draft deleted, what is saved kept as it is."""
        if self.draft is None:
            return
        self.draft = None
        drafts.discard(self.app.ctx, self.draft_form, self.draft_campaign())
        self.show_offer()

    def draft_saved_now(self) -> None:
        """The form was saved: no draft left to offer."""
        drafts.discard(self.app.ctx, self.draft_form, self.draft_campaign())
        self.draft, self._draft_restored = None, False
        self.show_offer()

    def keep_draft(self) -> None:
        """The session ends (its connection went, or it quits without asking): unsaved
        changes are kept as this login's draft, unless the staff chose to lose them."""
        if self._leaving or self.unsaved() is None:
            return
        drafts.write(self.app.ctx, self.draft_form, self.draft_campaign(), self.draft_values(), self.draft_saved())

    def drop_draft(self) -> None:
        """The staff leave, the unsaved changes lost by their choice: no draft kept, and a
        draft they restored goes with them."""
        self._leaving = True
        if self._draft_restored:
            drafts.discard(self.app.ctx, self.draft_form, self.draft_campaign())
