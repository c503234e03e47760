"""A form's draft (core/drafts.py), shown: the template editor and the campaign form keep
their unsaved text when the session ends without the staff choosing to lose it, and
offer it back in one line above their fields, f7 restoring it (as unsaved changes),
f8 deleting it. The draft is also written as the staff member types: DRAFT_DELAY seconds
after the last change (at least every DRAFT_LONGEST seconds of typing without a pause),
in a thread, so that a crash or `kill -9`, which runs nothing at the end, still leaves
it. The screen says what its text is (`draft_values`, `draft_saved`, `put_draft`); the
rules — where the draft lives, who reads it — are core's."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from textual import on
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Input, RadioSet, Static, TextArea

from core import drafts, oserrors
from core.i18n import N_, _
from tui.screens.base import ClinicastScreen

ResultT = TypeVar("ResultT")
ACTIONS = ("restore_draft", "discard_draft")
DRAFT_DELAY = 2.0  # seconds after the last change: the draft is written (never at each key)
DRAFT_LONGEST = 10.0  # typing without a pause: written at least this often
DRAFT_TICK = 0.5  # how often an edited form looks whether its draft is due


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
        # the draft written as the staff member types: each write or delete takes a turn,
        # and a write done in a thread is dropped when a newer turn came first (a save's
        # delete, a session's last write), under the lock that orders them
        self._draft_lock = threading.Lock()
        self._draft_turn = 0
        self._draft_due: float | None = None  # when the next write is due (time.monotonic)
        self._draft_since: float | None = None  # the first change not written yet
        self._draft_kept = False  # the draft file holds this screen's text, written as typed
        self._draft_ticker: Timer | None = None
        self._draft_failed: OSError | None = None  # a write failed (told once, by the ticker)
        self._draft_told = False

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
        self._delete_draft()
        self.show_offer()
        self._draft_edited()  # what was typed meanwhile (its draft went with the file) is written again

    def draft_saved_now(self) -> None:
        """The form was saved: no draft left to offer (nor one written as typed, nor one
        still to be written)."""
        self._delete_draft()
        self.draft, self._draft_restored = None, False
        self.show_offer()

    def keep_draft(self) -> None:
        """The session ends (its connection went, or it quits without asking): unsaved
        changes are kept as this login's draft, unless the staff chose to lose them. Run
        where the session ends: the app's loop, or the thread that saw the terminal go."""
        if self._leaving:
            return
        values = self.draft_values() if self.unsaved() is not None else None
        with self._draft_lock:
            self._draft_turn += 1
            if values is not None:
                drafts.write(self.app.ctx, self.draft_form, self.draft_campaign(), values, self.draft_saved())
            elif self._draft_kept:  # written as typed, then typed back to what is saved
                drafts.discard(self.app.ctx, self.draft_form, self.draft_campaign())

    def drop_draft(self) -> None:
        """The staff leave, the unsaved changes lost by their choice: no draft kept — one
        written as they typed, or one they restored, goes with them. A draft offered and
        left unanswered stays for the next time."""
        self._leaving = True
        if self._draft_restored or self._draft_kept:
            self._delete_draft()
        else:
            with self._draft_lock:
                self._draft_turn += 1  # a write still under way is dropped

    def _delete_draft(self) -> None:
        """The draft file deleted now, and any write still under way dropped."""
        self._draft_due = self._draft_since = None
        with self._draft_lock:
            self._draft_turn += 1
            self._draft_kept = False
            drafts.discard(self.app.ctx, self.draft_form, self.draft_campaign())

    # --- the draft written as the staff member types ------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(RadioSet.Changed)
    def _draft_edited(self) -> None:
        """A field changed: the draft is due DRAFT_DELAY seconds from now (each change
        pushes it back, up to DRAFT_LONGEST after the first one not yet written). A ticker
        looks, rather than a timer per key: a form being typed in is not busy."""
        if self._leaving:
            return
        now = time.monotonic()
        if self._draft_since is None:
            self._draft_since = now
        self._draft_due = min(now + DRAFT_DELAY, self._draft_since + DRAFT_LONGEST)
        if self._draft_ticker is None:
            self._draft_ticker = self.set_interval(DRAFT_TICK, self._draft_tick)

    def _draft_tick(self) -> None:
        if self._draft_failed is not None and not self._draft_told:
            self._draft_told = True  # once: the form still saves, and typing on changes nothing
            self.notify(
                _("The unsaved changes cannot be kept as a draft ({error}): save them before you leave.").format(
                    error=oserrors.words(self._draft_failed)
                ),
                severity="warning",
                timeout=10,
                markup=False,
            )
        if self._draft_due is None or time.monotonic() < self._draft_due:
            return
        self._draft_due = self._draft_since = None
        self.write_draft_now()

    def write_draft_now(self) -> None:
        """The text on show written as this login's draft, in a thread; none when nothing
        is unsaved (one this screen wrote is deleted: the text is back to what is saved;
        one offered from an earlier session is left alone)."""
        if self._leaving:
            return
        ctx, form, campaign = self.app.ctx, self.draft_form, self.draft_campaign()
        job: Callable[[], object]
        if self.unsaved() is not None:
            job = partial(drafts.write, ctx, form, campaign, self.draft_values(), self.draft_saved())
            self._draft_kept = True
        elif self._draft_kept:
            job, self._draft_kept = partial(drafts.discard, ctx, form, campaign), False
        else:
            return
        self._draft_turn += 1
        turn = self._draft_turn

        def in_turn() -> None:
            with self._draft_lock:
                if turn == self._draft_turn:  # nothing newer came first
                    try:
                        job()
                    except OSError as error:  # a full disk, a home not writable: the form still saves
                        self._draft_failed = error

        self.run_worker(in_turn, thread=True, group="draft", exit_on_error=False)
