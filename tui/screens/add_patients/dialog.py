"""Add patients to a campaign (SPEC §4): one patient, by conditions, or a CSV list.

Each tab ends in one core assign; the modal returns its AssignResult (None: closed).
The tabs are in their own modules (one_patient.py, by_conditions.py, csv_list.py); this
one puts them together: the tabs, the keys, the focus, closing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static, TabbedContent, TabPane

from core import recipients
from core.errors import Refused
from core.i18n import N_, _
from tui.screens.add_patients.by_conditions import ConditionsTab
from tui.screens.add_patients.csv_list import CsvTab
from tui.screens.add_patients.one_patient import OnePatientTab
from tui.screens.modals import leave_unless_unsaved
from tui.typeahead import typed_first
from tui.widgets.condition_row import ConditionRow
from tui.widgets.footer import KeysFooter
from tui.widgets.patient_search import PatientSearch


class AddPatientsModal(OnePatientTab, ConditionsTab, CsvTab):
    AUTO_FOCUS = "#patient-query"
    accepts_pasted_lists = True  # a list pasted into any of its fields is read whole (TextInput)
    # assign, each tab's key (the one shown is left out: `check_action`), then what the
    # tab adds; esc closes every dialog and comes last
    FOOTER_ORDER = (
        "add.assign",
        "add.tab_one",
        "add.tab_conditions",
        "add.tab_csv",
        "add.new_condition",
        "patients.opt_out",
        "add.close",
    )
    BINDINGS = [
        Binding("escape", "close", N_("Close"), key_display="esc", id="add.close"),
        Binding("ctrl+o,ctrl+s", "assign", N_("Assign"), priority=True, id="add.assign"),
        Binding("ctrl+n", "add_row", N_("New condition"), id="add.new_condition"),
        # the tabs by key: function keys, which tmux, screen and SSH clients pass as they are
        # (alt+digit reached the TUI as a character through tmux)
        Binding("f2", "tab('tab-one')", N_("One patient"), priority=True, id="add.tab_one"),
        Binding("f3", "tab('tab-conditions')", N_("Conditions"), priority=True, id="add.tab_conditions"),
        Binding("f4", "tab('tab-csv')", N_("CSV"), priority=True, id="add.tab_csv"),
    ]

    def __init__(self, campaign_id: int, kind: str, *, start_folder: str | Path | None = None) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.kind = kind
        self.start_folder = Path(start_folder or os.getcwd())
        self.conds = None
        self.match_count = None
        self.report = None
        # one-patient adds so far (the dialog stays open): what esc reports when closing
        self.added = None
        self._timer = None
        self._typed_tab = ""  # a tab key typed before the dialog was mounted (action_tab)
        self._rows_said = False  # the message says why the condition rows added nobody

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-dialog") as box:
            box.border_title = _("Add patients")
            with TabbedContent(id="add-tabs"):
                with TabPane(_("One patient"), id="tab-one"):
                    yield from self.compose_one_patient()
                with TabPane(_("Conditions"), id="tab-conditions"):
                    yield from self.compose_conditions()
                with TabPane(_("CSV file"), id="tab-csv"):
                    yield from self.compose_csv()
            yield Static("", id="add-message", classes="error")
        yield KeysFooter()

    def relabel(self) -> None:
        """The dialog's words again in the language now in use (the palette's switch); the
        condition rows' fields keep theirs until chosen again."""
        super().relabel()
        self.query_one("#add-dialog").border_title = _("Add patients")
        tabs = self.query_one(TabbedContent)
        for pane, label in (
            ("tab-one", _("One patient")),
            ("tab-conditions", _("Conditions")),
            ("tab-csv", _("CSV file")),
        ):
            tabs.get_tab(pane).label = label
        self.relabel_one_patient()
        self.relabel_conditions()
        self.relabel_csv()

    def on_mount(self) -> None:
        self.query_one("#add-message").display = False
        self.query_one("#csv-report").display = False
        if self._typed_tab:  # once the tabs are set up and the first field focused
            self.call_after_refresh(self.action_tab, self._typed_tab)
        self.check_flow()

    @work(exclusive=True, exit_on_error=False, group="check")
    async def check_flow(self) -> None:
        """A campaign that takes nobody now (its window ended, archived, no message yet)
        is said as the dialog opens — not after the staff member has chosen patients."""
        try:
            await asyncio.to_thread(recipients.check_assignable, self.app.ctx, self.campaign_id)
        except Refused as e:
            self._message(str(e))

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        self._message("")
        self.call_after_refresh(self._focus_pane, event.pane.id)

    def _focus_pane(self, tab: str) -> None:
        """Put the cursor in the tab's first field, unless another tab is shown by now."""
        if tab != self.active_tab():
            return
        target = {"tab-one": "#patient-query", "tab-conditions": "ConditionRow .cond-field", "tab-csv": "#csv-path"}[
            tab
        ]
        found = self.query(target)
        if found:
            self.set_focus(found.last() if tab == "tab-conditions" else found.first())

    def action_tab(self, tab: str) -> None:
        if not self.is_mounted:  # typed with the key that opens the dialog: shown once it is
            self._typed_tab = tab
            return
        self.query_one(TabbedContent).active = tab
        # the cursor goes there now: a key typed ahead (over SSH, F4 as the dialog opens) must
        # not be undone by the first tab's focus arriving later (which would show that tab again)
        self._focus_pane(tab)

    def changed(self) -> bool:
        """Conditions chosen or a CSV file given, not assigned yet (one-patient adds are saved)."""
        rows = any(row.touched() for row in self.query(ConditionRow))
        return rows or bool(self.query_one("#csv-path", Input).value.strip())

    def unsaved(self) -> Callable[[], str] | None:
        return (lambda: _("the patients not assigned yet")) if self.changed() else None

    def leave_question(self, quitting: bool) -> Callable[[], str] | None:
        # its own sentence: « Quitter les patients pas encore ajoutés sans enregistrer ? » read wrong
        if quitting:
            return lambda: _("Quit clinicast without adding these patients?")
        return lambda: _("Close without adding these patients?")

    def action_close(self) -> None:
        leave_unless_unsaved(self, lambda: self.dismiss(self.added))

    @typed_first
    def action_assign(self) -> None:
        tab = self.active_tab()
        if tab == "tab-conditions":
            self._assign_conditions_pressed()
        elif tab == "tab-csv":
            if self.report is None:
                self._check_csv()
            else:
                self._assign_csv_pressed()
        else:
            self.query_one(PatientSearch).action_results()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "add_row":
            return self.active_tab() == "tab-conditions"
        if action == "tab" and self.is_mounted:  # the tab shown needs no key: its room goes to the others
            return parameters[0] != self.active_tab()
        return True
