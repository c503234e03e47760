"""What the add-patients dialog's tabs share: its state, the message line under the tabs,
which tab is shown, and the assign that ends a tab (one core call; the dialog closes
with its AssignResult).

Each tab is a class of its own module (one_patient.py, by_conditions.py, csv_list.py)
built on AddPatientsBase; dialog.py puts them together as AddPatientsModal."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import work
from textual.timer import Timer
from textual.widgets import Static, TabbedContent

from core import conditions, recipients
from core.errors import ClinicastError
from tui.screens.base import ClinicastModal


class AddPatientsBase(ClinicastModal[recipients.AssignResult | None]):
    """The dialog's state (set in AddPatientsModal.__init__) and what every tab uses."""

    campaign_id: int
    kind: str
    start_folder: Path
    conds: list[conditions.Condition] | None
    match_count: int | None
    report: recipients.IdListReport | None
    added: recipients.AssignResult | None
    _timer: Timer | None
    _typed_tab: str
    _rows_said: bool

    def _message(self, text: str, error: bool = True) -> None:
        label = self.query_one("#add-message", Static)
        label.update(text)
        label.set_class(error, "error")
        label.set_class(not error, "done")
        label.display = bool(text)

    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    # --- assigning -----------------------------------------------------------------

    def _assign(self, assign, who) -> None:
        """`assign` is recipients.assign_patient, assign_conditions or assign_ids; one at a time."""
        if not self.running("assign"):
            self.assign_flow(assign, who)

    @work(exclusive=True, exit_on_error=False, group="assign")
    async def assign_flow(self, assign, who) -> None:
        await self._assigned(assign, who)

    async def _assigned(self, assign, who) -> None:
        try:
            result = await asyncio.to_thread(assign, self.app.ctx, self.campaign_id, who)
        except ClinicastError as e:
            self._message(str(e))  # in the dialog, which stays open
            return
        # this assign's own counts: each one-patient add of the dialog was said in it when made
        self.dismiss(result)
