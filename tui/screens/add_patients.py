"""Add patients to a campaign (SPEC §4): one patient, by conditions, or a CSV list.

Each tab ends in one core assign; the modal returns its AssignResult (None: closed)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import (
    Button,
    DirectoryTree,
    Input,
    Static,
    TabbedContent,
    TabPane,
)

from core import conditions, recipients
from core.errors import ClinicastError, Refused
from core.i18n import N_, _, ngettext
from core.textcheck import quoted_value
from tui import format as fmt
from tui.screens.base import ClinicastModal
from tui.screens.modals import ConfirmModal, leave_unless_unsaved
from tui.typeahead import typed_first
from tui.widgets.condition_row import ConditionRow
from tui.widgets.footer import KeysFooter
from tui.widgets.patient_search import PatientSearch
from tui.widgets.text_input import TextInput, is_list

COUNT_DELAY = 0.3
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}


class CsvTree(DirectoryTree):
    """Folders and the files that can hold a list of EMR ids."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in CSV_SUFFIXES)]


class PathOrPaste(TextInput):
    """The CSV tab's path field: a one-line paste is a path; a pasted list goes to the
    modal (TextInput.ListPasted) as a list of ids."""


class AddPatientsModal(ClinicastModal[recipients.AssignResult | None]):
    AUTO_FOCUS = "#patient-query"
    accepts_pasted_lists = True  # a list pasted into any of its fields is read whole (TextInput)
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
        self.conds: list[conditions.Condition] | None = None
        self.match_count: int | None = None
        self.report: recipients.IdListReport | None = None
        # one-patient adds so far (the dialog stays open): what esc reports when closing
        self.added: recipients.AssignResult | None = None
        self._timer: Timer | None = None
        self._typed_tab = ""  # a tab key typed before the dialog was mounted (action_tab)
        self._rows_said = False  # the message says why the condition rows added nobody

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="add-dialog") as box:
            box.border_title = _("Add patients")
            with TabbedContent(id="add-tabs"):
                with TabPane(_("One patient"), id="tab-one"):
                    yield PatientSearch()
                with TabPane(_("Conditions"), id="tab-conditions"):
                    yield Static(self._hint(), classes="hint", id="conditions-hint")
                    with VerticalScroll(id="condition-rows"):
                        yield ConditionRow()
                    with Horizontal(classes="add-actions"):
                        yield Button(_("+ condition"), id="add-row", compact=True)
                        yield Static("", id="match-count")
                        yield Button(
                            _("Assign"), id="assign-conditions", variant="primary", compact=True, disabled=True
                        )
                with TabPane(_("CSV file"), id="tab-csv"):
                    with Horizontal(id="csv-path-row"):
                        yield PathOrPaste(
                            placeholder=self._csv_placeholder(),
                            id="csv-path",
                            compact=True,
                        )
                        yield Button(_("Check"), id="csv-check", compact=True)
                    yield CsvTree(self.start_folder, id="csv-tree")
                    yield Static("", id="csv-report")
                    with Horizontal(classes="add-actions"):
                        yield Static("", classes="spacer")
                        yield Button(_("Assign"), id="assign-csv", variant="primary", compact=True, disabled=True)
            yield Static("", id="add-message", classes="error")
        yield KeysFooter()

    @staticmethod
    def _hint() -> str:
        return _("Patients matching every row are added. {key} adds a row.").format(key="ctrl+n")

    @staticmethod
    def _csv_placeholder() -> str:
        return _("CSV file path (enter: check it), or paste EMR ids")

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
        self.query_one("#conditions-hint", Static).update(self._hint())
        self.query_one("#add-row", Button).label = _("+ condition")
        self.query_one("#csv-check", Button).label = _("Check")
        self.query_one("#csv-path", Input).placeholder = self._csv_placeholder()
        self.query_one(PatientSearch).relabel()
        self._count_now()
        if self.report is not None:
            self.query_one("#csv-report", Static).update(csv_report_text(self.report))
            n = len(self.report.found)
            self.query_one("#assign-csv", Button).label = _("Assign {n}").format(n=fmt.num(n)) if n else _("Assign")
        else:
            self.query_one("#assign-csv", Button).label = _("Assign")

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

    def _message(self, text: str, error: bool = True) -> None:
        label = self.query_one("#add-message", Static)
        label.update(text)
        label.set_class(error, "error")
        label.set_class(not error, "done")
        label.display = bool(text)

    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

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
        return True

    # --- one patient ---------------------------------------------------------------

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
        if self._rows_said:  # why the rows added nobody: moot once they change
            self._rows_said = False
            self._message("")
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(COUNT_DELAY, self._count_now)

    def _count_now(self) -> None:
        self._count(self._rows())

    def _rows(self) -> list[tuple[ConditionRow, tuple[str, str, str] | None]]:
        return [(row, row.parts()) for row in self.query(ConditionRow)]

    @work(exclusive=True, exit_on_error=False, group="count")
    async def _count(self, rows) -> None:
        await self._preview(rows)

    async def _preview(self, rows) -> tuple[list[conditions.Condition] | None, recipients.AssignPreview | None]:
        """The rows' conditions (None while one is not filled in or wrong) and what core's
        preview says of them — the count, and the values no patient has — shown: each
        row's mistake or warning under it, the count beside the Assign button."""
        conds: list[conditions.Condition] = []
        errors: list[tuple[ConditionRow, str, conditions.Condition | None]] = []
        for row, parts in rows:
            if parts is None:
                errors.append((row, "", None))
                continue
            try:
                made = conditions.make(*parts, shown=conditions.words(*parts))
                conds.append(made)
                errors.append((row, "", made))
            except ClinicastError as e:
                errors.append((row, str(e), None))
        complete = bool(conds) and len(conds) == len(rows)
        # what the assign would do, counted by core with the assign's own consent rules
        preview = (
            await asyncio.to_thread(recipients.preview_conditions, self.app.ctx, self.campaign_id, conds)
            if complete
            else None
        )
        n = preview.matched if preview is not None else None
        unknown = {(u.condition.field, u.condition.value): u for u in (preview.unknown if preview else [])}
        for row, message, cond in errors:
            if not row.is_mounted:
                continue
            if message or cond is None:
                row.show_error(message)
            else:
                row.show_warning(unknown.get((cond.field, cond.value)))
        self.conds, self.match_count = (conds if complete else None), n
        label = self.query_one("#match-count", Static)
        button = self.query_one("#assign-conditions", Button)
        if n is None:
            label.update(Text(_("complete every row to count"), style="dim"))
            button.disabled = True
            button.label = _("Assign")
        elif n > recipients.LIMIT:
            label.update(
                Text(
                    ngettext(
                        "{n} patient matches: more than {limit}, the most one assign adds. "
                        "Add a condition to narrow it.",
                        "{n} patients match: more than {limit}, the most one assign adds. "
                        "Add a condition to narrow it.",
                        n,
                    ).format(n=fmt.num(n), limit=fmt.num(recipients.LIMIT)),
                    style="bold red",
                )
            )
            button.disabled = True
            button.label = _("Assign")
        else:
            assert preview is not None
            label.update(Text(preview.line(), style="bold green" if preview.added else "yellow"))
            button.disabled = n == 0
            # the patients this assign adds, as the preview says: the others matched are
            # on the campaign already, or written as skipped with their reason
            added = preview.added
            button.label = _("Assign {n}").format(n=fmt.num(added)) if added else _("Assign")
        return (conds if complete else None), preview

    @on(Button.Pressed, "#assign-conditions")
    def _assign_conditions_pressed(self) -> None:
        if not self.running("assign"):
            self.conditions_flow()

    @work(exclusive=True, exit_on_error=False, group="assign")
    async def conditions_flow(self) -> None:
        """Assign by the rows as they are now (counted afresh, not the last count the
        debounce left): nothing to add is said, not silently ignored; a value no patient
        has (core's warning at its row) is confirmed first, naming it and the count."""
        if self._timer is not None:
            self._timer.stop()
        conds, preview = await self._preview(self._rows())
        if conds is None or preview is None or not 0 < preview.matched <= recipients.LIMIT:
            self._message(nothing_to_add(preview if conds else None))
            self._rows_said = True
            return
        if preview.unknown and preview.added and not await self.app.push_screen_wait(unknown_confirm(preview)):
            return
        assign = functools.partial(recipients.assign_conditions, unknown_ok=bool(preview.unknown))
        self._message("")
        await self._assigned(assign, conds)

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
            self._message(_("Type the path of a CSV file, or choose one in the folder below."))
            return
        self._read_csv(os.path.expanduser(path))

    @on(Input.Changed, "#csv-path")
    def _path_changed(self) -> None:
        self.report = None
        self.query_one("#assign-csv", Button).disabled = True
        self.query_one("#csv-report").display = False

    # a list pasted anywhere in the dialog (terminals send it as a bracketed paste): read
    # by core like a CSV file, with the same report and the same Assign to confirm
    @on(TextInput.ListPasted)
    def _list_pasted(self, event: TextInput.ListPasted) -> None:
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
        button.label = _("Assign {n}").format(n=fmt.num(n)) if n else _("Assign")
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
        await self._assigned(assign, who)

    async def _assigned(self, assign, who) -> None:
        try:
            result = await asyncio.to_thread(assign, self.app.ctx, self.campaign_id, who)
        except ClinicastError as e:
            self._message(str(e))  # in the dialog, which stays open
            return
        # this assign's own counts: each one-patient add of the dialog was said in it when made
        self.dismiss(result)


def nothing_to_add(preview: recipients.AssignPreview | None) -> str:
    """Why ^o on the condition rows adds nobody: a row not filled in or wrong (None), no
    patient matching (a value no patient has is said at its row), or too many."""
    if preview is None:
        return _("Nothing was added: complete or correct every row first.")
    if preview.matched == 0:
        return _("Nothing was added: no patient matches these conditions.")
    return _("Nothing was added: more than {limit} patients match; add a condition to narrow it.").format(
        limit=fmt.num(recipients.LIMIT)
    )


def unknown_confirm(preview: recipients.AssignPreview) -> ConfirmModal:
    """Before an assign whose conditions name a value no patient has: core's warning (with
    the closest values) and what the assign would do; enter keeps the dialog to correct it."""

    def said() -> str:
        n = preview.added
        return "\n".join(
            [
                *(u.words() for u in preview.unknown),
                "",
                _("With these conditions: {preview}.").format(preview=preview.line()),
                ngettext("Add this patient anyway?", "Add these {n} patients anyway?", n).format(n=fmt.num(n)),
            ]
        )

    return ConfirmModal(
        lambda: _("A value no patient has"),
        said,
        yes=lambda: _("Add anyway"),
        no=lambda: _("Correct it"),
        danger=True,
        no_first=True,
    )


def _listed(items: list[str], limit: int = 4) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    more = len(items) - limit
    return ngettext("{items}, … {n} more", "{items}, … {n} more", more).format(
        items=", ".join(items[:limit]), n=fmt.num(more)
    )


def csv_report_text(report: recipients.IdListReport) -> Text:
    t = Text()
    n = len(report.found)
    t.append(
        ngettext("{n} patient found", "{n} patients found", n).format(n=fmt.num(n)), style="bold green" if n else "bold"
    )
    if report.column:
        t.append(" " + _("(column {column}) — nothing is added until you press Assign").format(column=report.column))
    else:  # a list without a header: every line an id
        t.append(" " + _("(every line an id) — nothing is added until you press Assign"))
    t.append("\n")
    if report.unknown:
        n = len(report.unknown)
        t.append(ngettext("{n} unknown id: ", "{n} unknown ids: ", n).format(n=fmt.num(n)), style="bold yellow")
        t.append(
            _listed([_("line {line} {id}").format(line=ln, id=quoted_value(i)) for ln, i in report.unknown]) + "\n"
        )
    if report.duplicates:
        n = len(report.duplicates)
        t.append(ngettext("{n} duplicate: ", "{n} duplicates: ", n).format(n=fmt.num(n)), style="bold yellow")
        t.append(
            _listed(
                [
                    _("line {line} (as line {first})").format(line=ln, first=first)
                    for ln, _id, first in report.duplicates
                ]
            )
            + "\n"
        )
    if report.bad_lines:
        n = len(report.bad_lines)
        t.append(ngettext("{n} bad line: ", "{n} bad lines: ", n).format(n=fmt.num(n)), style="bold red")
        t.append(_listed([_("line {line}: {why}").format(line=ln, why=why) for ln, why in report.bad_lines], 2) + "\n")
    t.rstrip()
    return t
