"""Add patients to a campaign (SPEC §4): one patient, by conditions, or a CSV list.

Each tab ends in one core assign; the modal returns its AssignResult (None: closed)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import (
    Button,
    DirectoryTree,
    Footer,
    Input,
    Static,
    TabbedContent,
    TabPane,
)

from core import conditions, recipients
from core.errors import ClinicastError
from core.i18n import _
from tui import format as fmt
from tui.screens.base import ClinicastModal
from tui.widgets.condition_row import ConditionRow
from tui.widgets.patient_search import PatientSearch

COUNT_DELAY = 0.3
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}


class CsvTree(DirectoryTree):
    """Folders and the files that can hold a list of EMR ids."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in CSV_SUFFIXES)]


class PathOrPaste(Input):
    """The CSV tab's path field: a one-line paste is a path; a pasted list (several
    lines: a column copied from a spreadsheet) goes to the modal as a list of ids."""

    class ListPasted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def _on_paste(self, event: events.Paste) -> None:
        if is_list(event.text):
            event.prevent_default()  # not Input's paste, which keeps the first line
            event.stop()
            self.post_message(self.ListPasted(event.text))


def is_list(text: str) -> bool:
    return len([line for line in text.splitlines() if line.strip()]) > 1


class AddPatientsModal(ClinicastModal[recipients.AssignResult | None]):
    AUTO_FOCUS = "#patient-query"
    BINDINGS = [
        Binding("escape", "close", "Close", key_display="esc", id="add.close"),
        Binding("ctrl+s", "assign", "Assign", priority=True, id="add.assign"),
        Binding("ctrl+n", "add_row", "New condition", id="add.new_condition"),
    ]

    def __init__(self, campaign_id: int, kind: str, *, start_folder: str | Path | None = None) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.kind = kind
        self.start_folder = Path(start_folder or os.getcwd())
        self.conds: list[conditions.Condition] | None = None
        self.match_count: int | None = None
        self.report: recipients.IdListReport | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-dialog") as box:
            box.border_title = "Add patients"
            with TabbedContent(id="add-tabs"):
                with TabPane("One patient", id="tab-one"):
                    yield PatientSearch()
                with TabPane("Conditions", id="tab-conditions"):
                    yield Static("Patients matching every row are added. ctrl+n adds a row.", classes="hint")
                    with VerticalScroll(id="condition-rows"):
                        yield ConditionRow()
                    with Horizontal(classes="add-actions"):
                        yield Button("+ condition", id="add-row", compact=True)
                        yield Static("", id="match-count")
                        yield Button("Assign", id="assign-conditions", variant="primary", compact=True, disabled=True)
                with TabPane("CSV file", id="tab-csv"):
                    with Horizontal(id="csv-path-row"):
                        yield PathOrPaste(
                            placeholder=_("path of a CSV file (enter: check it), or paste a column of EMR ids"),
                            id="csv-path",
                            compact=True,
                        )
                        yield Button("Check", id="csv-check", compact=True)
                    yield CsvTree(self.start_folder, id="csv-tree")
                    yield Static("", id="csv-report")
                    with Horizontal(classes="add-actions"):
                        yield Static("", classes="spacer")
                        yield Button("Assign", id="assign-csv", variant="primary", compact=True, disabled=True)
            yield Static("", id="add-message", classes="error")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#add-message").display = False
        self.query_one("#csv-report").display = False

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

    def _message(self, text: str) -> None:
        label = self.query_one("#add-message", Static)
        label.update(text)
        label.display = bool(text)

    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def action_close(self) -> None:
        self.dismiss(None)

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
        return True

    # --- one patient ---------------------------------------------------------------

    @on(PatientSearch.Chosen)
    def _patient_chosen(self, event: PatientSearch.Chosen) -> None:
        self._assign(recipients.assign_patient, event.emr_id)

    # --- conditions ----------------------------------------------------------------

    @on(Button.Pressed, "#add-row")
    async def action_add_row(self) -> None:
        row = ConditionRow()
        await self.query_one("#condition-rows").mount(row)
        row.query_one(".cond-field").focus()
        self._count_soon()

    @on(ConditionRow.Delete)
    async def _delete_row(self, event: ConditionRow.Delete) -> None:
        await event.row.remove()
        if not self.query(ConditionRow):
            await self.action_add_row()
        self._count_soon()

    @on(ConditionRow.Changed)
    def _count_soon(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(COUNT_DELAY, self._count_now)

    def _count_now(self) -> None:
        rows = list(self.query(ConditionRow))
        self._count([(row, row.parts()) for row in rows])

    @work(exclusive=True, exit_on_error=False, group="count")
    async def _count(self, rows) -> None:
        conds, errors = [], []
        for row, parts in rows:
            if parts is None:
                errors.append((row, ""))
                continue
            try:
                conds.append(conditions.make(*parts))
                errors.append((row, ""))
            except ClinicastError as e:
                errors.append((row, str(e)))
        complete = bool(conds) and len(conds) == len(rows)
        # what the assign would do, counted by core with the assign's own consent rules
        preview = (
            await asyncio.to_thread(recipients.preview_conditions, self.app.ctx, self.campaign_id, conds)
            if complete
            else None
        )
        n = preview.matched if preview is not None else None
        for row, message in errors:
            if row.is_mounted:
                row.show_error(message)
        self.conds, self.match_count = (conds if complete else None), n
        label = self.query_one("#match-count", Static)
        button = self.query_one("#assign-conditions", Button)
        if n is None:
            label.update(Text("complete every row to count", style="dim"))
            button.disabled = True
            button.label = "Assign"
        elif n > recipients.LIMIT:
            label.update(
                Text(
                    f"{fmt.num(n)} patients match: more than {fmt.num(recipients.LIMIT)}, the most "
                    "one assign adds. Add a condition to narrow it.",
                    style="bold red",
                )
            )
            button.disabled = True
            button.label = "Assign"
        else:
            assert preview is not None
            label.update(Text(preview.line(), style="bold green" if preview.added else "yellow"))
            button.disabled = n == 0
            button.label = f"Assign {fmt.num(n)}"

    @on(Button.Pressed, "#assign-conditions")
    def _assign_conditions_pressed(self) -> None:
        if self.conds and not self.query_one("#assign-conditions", Button).disabled:
            self._assign(recipients.assign_conditions, self.conds)

    # --- CSV -----------------------------------------------------------------------

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.query_one("#csv-path", Input).value = str(event.path)
        self._check_csv()

    @on(Input.Submitted, "#csv-path")
    @on(Button.Pressed, "#csv-check")
    def _check_csv(self) -> None:
        path = self.query_one("#csv-path", Input).value.strip()
        if not path:
            self._message("Type the path of a CSV file, or choose one in the folder below.")
            return
        self._read_csv(os.path.expanduser(path))

    @on(Input.Changed, "#csv-path")
    def _path_changed(self) -> None:
        self.report = None
        self.query_one("#assign-csv", Button).disabled = True
        self.query_one("#csv-report").display = False

    # a list pasted anywhere in the dialog (terminals send it as a bracketed paste): read
    # by core like a CSV file, with the same report and the same Assign to confirm
    @on(PathOrPaste.ListPasted)
    def _list_pasted(self, event: PathOrPaste.ListPasted) -> None:
        self._pasted(event.text)

    def on_paste(self, event: events.Paste) -> None:
        if is_list(event.text):
            event.stop()
            self._pasted(event.text)

    def _pasted(self, text: str) -> None:
        self.query_one(TabbedContent).active = "tab-csv"
        self._read_list(recipients.read_pasted, text)

    def _read_csv(self, path: str) -> None:
        self._read_list(recipients.read_id_list, path)

    @work(exclusive=True, exit_on_error=False, group="csv")
    async def _read_list(self, read, what: str) -> None:
        """`read` is recipients.read_id_list (a path) or read_pasted (the pasted text)."""
        try:
            report = await asyncio.to_thread(read, self.app.ctx, what)
        except ClinicastError as e:
            self._message(str(e))  # beside the path, where the eye is
            return
        self.report = report
        self._message("")
        box = self.query_one("#csv-report", Static)
        box.update(csv_report_text(report))
        box.display = True
        button = self.query_one("#assign-csv", Button)
        n = len(report.found)
        button.disabled = n == 0
        button.label = f"Assign {fmt.num(n)}" if n else "Assign"
        if n:
            button.focus()

    @on(Button.Pressed, "#assign-csv")
    def _assign_csv_pressed(self) -> None:
        if self.report is not None and self.report.found:
            self._assign(recipients.assign_ids, self.report.found)

    # --- assigning -----------------------------------------------------------------

    def _assign(self, assign, who) -> None:
        """`assign` is recipients.assign_patient, assign_conditions or assign_ids; one at a time."""
        if not self.running("assign"):
            self.assign_flow(assign, who)

    @work(exclusive=True, exit_on_error=False, group="assign")
    async def assign_flow(self, assign, who) -> None:
        try:
            result = await asyncio.to_thread(assign, self.app.ctx, self.campaign_id, who)
        except ClinicastError as e:
            self._message(str(e))  # in the dialog, which stays open
            return
        self.dismiss(result)


def _listed(items: list[str], limit: int = 4) -> str:
    more = f", … {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def csv_report_text(report: recipients.IdListReport) -> Text:
    t = Text()
    t.append(f"{fmt.plural(len(report.found), 'patient')} found", style="bold green" if report.found else "bold")
    t.append(f" (column {report.column}) — nothing is added until you press Assign\n")
    if report.unknown:
        t.append(f"{fmt.plural(len(report.unknown), 'unknown id')}: ", style="bold yellow")
        t.append(_listed([f"line {ln} {i!r}" for ln, i in report.unknown]) + "\n")
    if report.duplicates:
        t.append(f"{fmt.plural(len(report.duplicates), 'duplicate')}: ", style="bold yellow")
        t.append(_listed([f"line {ln} (as line {first})" for ln, _, first in report.duplicates]) + "\n")
    if report.bad_lines:
        t.append(f"{fmt.plural(len(report.bad_lines), 'bad line')}: ", style="bold red")
        t.append(_listed([f"line {ln}: {why}" for ln, why in report.bad_lines], 2) + "\n")
    t.rstrip()
    return t
