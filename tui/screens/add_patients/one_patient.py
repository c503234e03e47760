"""The dialog's first tab: search one patient, add them; the dialog stays open for the next."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult

from core import recipients
from core.errors import ClinicastError
from core.i18n import _, ngettext
from tui import format as fmt
from tui.screens.add_patients.common import AddPatientsBase
from tui.widgets.patient_search import PatientSearch


class OnePatientTab(AddPatientsBase):
    def compose_one_patient(self) -> ComposeResult:
        yield PatientSearch()

    def relabel_one_patient(self) -> None:
        self.query_one(PatientSearch).relabel()

    @on(PatientSearch.Chosen)
    def _patient_chosen(self, event: PatientSearch.Chosen) -> None:
        if not self.running("assign"):
            self.add_one_flow(event.emr_id, event.name)

    @work(exclusive=True, exit_on_error=False, group="assign")
    async def add_one_flow(self, emr_id: str, name: str) -> None:
        """One patient added, the dialog stays open for the next (esc closes it)."""
        try:
            result = await asyncio.to_thread(recipients.assign_patient, self.app.ctx, self.campaign_id, emr_id)
        except ClinicastError as e:
            self._message(str(e))
            return
        self.added = result if self.added is None else self.added.plus(result)
        said = result.words_for(name, emr_id)  # core's words: added, added as skipped (and why), already there
        total = self.added.written  # a patient added as skipped is on the campaign too
        more = ngettext("{n} added so far.", "{n} added so far.", total).format(n=fmt.num(total))
        self._message(f"{said} {more} " + _("Search for another, or esc to close."), error=not result.added)
        self.query_one(PatientSearch).restart()
