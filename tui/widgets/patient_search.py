"""Search the patient directory as you type (name, EMR id, birth date, email)."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker

from core.audit import read as audit_read
from core.i18n import N_, _, ngettext
from core.models import Patient
from tui import workers
from tui.app import ClinicastApp
from tui.screens.opt_out import OptOutFlow
from tui.widgets.text_input import TextInput


def patient_label(p: Patient, width: int = 80) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{p.emr_id:>8}  ", style="bold")
    t.append(f"{p.last_name}, {p.first_name}")
    if p.date_of_birth:
        t.append(f"  {p.date_of_birth.isoformat()}", style="cyan")
    # the app mark before the email: a long address is what 80 columns cut, and the mark
    # is why an invitation adds this patient as skipped
    if p.app_id:
        t.append("  " + _("app"), style="green")
    if p.email:
        t.append(f"  {p.email}", style="dim")
    return t


class PatientSearch(Vertical):
    """Input + results; enter on a result posts PatientSearch.Chosen; o on a result
    records an opt-out the patient asked for."""

    DEFAULT_CSS = """
    PatientSearch { height: 1fr; }
    PatientSearch > #patient-query { margin-bottom: 0; }
    PatientSearch > OptionList { height: 1fr; border: none; }
    PatientSearch > .hint { height: 1; }
    """
    BINDINGS = [
        Binding("down", "results", N_("Results"), show=False),
        Binding(
            "o", "opt_out", N_("Opt-out"), tooltip=N_("Record an opt-out the patient asked for"), id="patients.opt_out"
        ),
    ]

    class Chosen(Message):
        def __init__(self, emr_id: str, name: str, patient_id: int) -> None:
            super().__init__()
            self.emr_id, self.name, self.patient_id = emr_id, name, patient_id

    app = getters.app(ClinicastApp)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._found: dict[str, Patient] = {}
        self.opt_outs = OptOutFlow(self)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        workers.report_failure(self, event)

    def compose(self) -> ComposeResult:
        yield TextInput(placeholder=self._placeholder(), id="patient-query")
        yield Static(_("Type to search; ↓ to the results, enter to choose."), classes="hint", id="patient-hint")
        yield OptionList(id="patient-results")

    @staticmethod
    def _placeholder() -> str:
        return _("name, EMR id, birth date (YYYY-MM-DD) or email")

    def relabel(self) -> None:
        """The words again in the language now in use (the palette's switch)."""
        query = self.query_one("#patient-query", Input)
        query.placeholder = self._placeholder()
        self._search(query.value)

    def focus_query(self) -> None:
        self.query_one("#patient-query", Input).focus()

    def restart(self) -> None:
        """An empty search, the cursor in it: ready for the next patient."""
        self.query_one("#patient-query", Input).value = ""
        self.focus_query()

    @on(Input.Changed, "#patient-query")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self._search(event.value)

    @on(Input.Submitted, "#patient-query")
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter picks the highlighted result (the first, unless ↓ chose another): one key."""
        event.stop()
        results = self.query_one(OptionList)
        if results.option_count:
            if results.highlighted is None:
                results.highlighted = 0
            results.action_select()

    def action_results(self) -> None:
        results = self.query_one(OptionList)
        if results.option_count:
            results.focus()
            if results.highlighted is None:
                results.highlighted = 0

    @work(exclusive=True, exit_on_error=False, group="patient-search")
    async def _search(self, text: str) -> None:
        # a search shows patients' data: audited (core.audit.read)
        found = await asyncio.to_thread(audit_read.search_patients, self.app.ctx, text, limit=20)
        results = self.query_one(OptionList)
        results.clear_options()
        self._found = {str(p.id): p for p in found}
        results.add_options([Option(patient_label(p), id=str(p.id)) for p in found])
        if found:
            results.highlighted = 0  # what enter picks
        hint = self.query_one("#patient-hint", Static)
        if not text.strip():
            hint.update(_("Type to search; ↓ to the results, enter to choose."))
        elif not found:
            hint.update(_("No patient matches “{text}”.").format(text=text.strip()))
        elif len(found) >= 20:
            hint.update(
                _("The first {n} found (type more to narrow) — enter picks the highlighted one, ↓ another.").format(
                    n=len(found)
                )
            )
        else:
            n = len(found)
            hint.update(
                ngettext(
                    "{n} found — enter picks the highlighted one, ↓ another.",
                    "{n} found — enter picks the highlighted one, ↓ another.",
                    n,
                ).format(n=n)
            )

    def action_opt_out(self) -> None:
        results = self.query_one(OptionList)
        if not results.has_focus or results.highlighted is None:
            return
        option = results.get_option_at_index(results.highlighted)
        p = self._found.get(option.id or "")
        if p is not None:
            self.opt_outs.ask(p.emr_id, p.name)

    @on(OptionList.OptionSelected, "#patient-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        p = self._found.get(event.option.id or "")
        if p is not None:
            self.post_message(self.Chosen(p.emr_id, p.name, p.id))
