"""The dialog's CSV tab: a file's path (typed, or chosen in the folder tree) or a pasted
list of EMR ids, read by core into a report shown before anything is added.

Over SSH (core.ssh.server_paths_shown) the tab browses no folder of the server and reads
no path: staff without a shell would read there any file their login can (another's
export, the config), and their own files are on their computer. It takes a pasted list,
and names the command that sends a file through the connection."""

from __future__ import annotations

import asyncio
import os

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DirectoryTree, Input, Static, TabbedContent

from core import recipients, ssh
from core.errors import BadInput, ClinicastError
from core.i18n import _
from core.textcheck import visible
from tui import format as fmt
from tui.screens.add_patients.common import AddPatientsBase
from tui.screens.add_patients.words import csv_report_text
from tui.widgets.text_input import TextInput, is_list

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}


class CsvTree(DirectoryTree):
    """Folders and the files that can hold a list of EMR ids."""

    def filter_paths(self, paths):
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in CSV_SUFFIXES)]


class PathOrPaste(TextInput):
    """The CSV tab's path field: a one-line paste is a path; a pasted list goes to the
    modal (TextInput.ListPasted) as a list of ids."""


class CsvTab(AddPatientsBase):
    # over SSH, the path (or "") whose answer shows under the field, in the standing
    # words' place (relabelled in the language switched to); None: the standing words show
    _over_ssh_answered: str | None = None

    def compose_csv(self) -> ComposeResult:
        with Horizontal(id="csv-path-row"):
            yield PathOrPaste(
                placeholder=self._csv_placeholder(),
                id="csv-path",
                compact=True,
            )
            yield Button(_("Check"), id="csv-check", compact=True)
        # the report, or why the file was refused, right under the path her eye is on
        yield Static("", id="csv-report")
        if ssh.server_paths_shown():
            yield CsvTree(self.start_folder, id="csv-tree")
        else:  # over SSH: the server's folders are not the staff member's
            yield Static(self._over_ssh_words(), id="csv-over-ssh", markup=False)
        with Horizontal(classes="add-actions"):
            yield Static("", classes="spacer")
            yield Button(_("Assign"), id="assign-csv", variant="primary", compact=True, disabled=True)

    @staticmethod
    def _csv_placeholder() -> str:
        if not ssh.server_paths_shown():
            return _("Paste EMR ids here (a column copied from a spreadsheet)")
        return _("CSV file path (enter: check it), or paste EMR ids")

    def _over_ssh_words(self, typed: str | None = None) -> str:
        """Over SSH, how a list comes: pasted here, or sent from the staff member's computer
        (`typed`: the file name they typed, in the command)."""
        command = ssh.id_list_over_ssh(self.campaign_id, typed or _("list.csv"))
        if typed:  # one line of words, whatever was typed (a tab, an escape: shown escaped)
            return _(
                "{path}: this session runs on the clinic's server and reads no file by its path; paste the "
                "file's column of EMR ids here, or send it from a terminal on your computer: {command}"
            ).format(path=visible(typed, len(typed)), command=visible(command, len(command)))
        return _(
            "This session runs on the clinic's server, not on your computer: paste a column of EMR ids "
            "copied from a spreadsheet (up to {n}), or send a file from a terminal on your computer: {command}"
        ).format(n=fmt.num(recipients.PASTE_LIMIT), command=command)

    def relabel_csv(self) -> None:
        self.query_one("#csv-check", Button).label = _("Check")
        self.query_one("#csv-path", Input).placeholder = self._csv_placeholder()
        for words in self.query("#csv-over-ssh").results(Static):
            words.update(self._over_ssh_words())
        if self._over_ssh_answered is not None:
            self.query_one("#csv-report", Static).update(Text(self._over_ssh_words(self._over_ssh_answered)))
        if self.report is not None:
            self.query_one("#csv-report", Static).update(csv_report_text(self.report))
            n = len(self.report.found)
            self.query_one("#assign-csv", Button).label = _("Assign {n}").format(n=fmt.num(n)) if n else _("Assign")
        else:
            self.query_one("#assign-csv", Button).label = _("Assign")

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.query_one("#csv-path", Input).value = str(event.path)
        self._check_csv()

    @on(Input.Submitted, "#csv-path")
    @on(Button.Pressed, "#csv-check")
    def _check_csv(self) -> None:
        path = self.query_one("#csv-path", Input).value.strip()
        if not ssh.server_paths_shown():  # over SSH a path is not read (core.ssh)
            box = self.query_one("#csv-report", Static)
            box.update(Text(self._over_ssh_words(path)))  # a path's [ is not markup
            box.add_class("error")
            box.display = True
            # said once: the answer, right under the path, in place of the standing words
            # (which said the same a few lines below it, the command twice)
            self.query_one("#csv-over-ssh").display = False
            self._over_ssh_answered = path
            return
        if not path:
            self._message(_("Type the path of a CSV file, or choose one in the folder below."))
            return
        self._read_csv(os.path.expanduser(path))

    @on(Input.Changed, "#csv-path")
    def _path_changed(self) -> None:
        self.report = None
        button = self.query_one("#assign-csv", Button)
        button.disabled = True
        button.label = _("Assign")  # no count of a file no longer named
        self.query_one("#csv-report").display = False
        self._over_ssh_unanswered()

    def _over_ssh_unanswered(self) -> None:
        """Over SSH, the answer to a path no longer shows (the path changed, a list's report
        in its place): the standing words, back."""
        self._over_ssh_answered = None
        for words in self.query("#csv-over-ssh"):
            words.display = True

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
        box = self.query_one("#csv-report", Static)
        self._over_ssh_unanswered()
        try:
            report = await asyncio.to_thread(read, self.app.ctx, what)
        except BadInput as e:  # the file or the list: said beside the path, where the eye is
            box.update(str(e))
            box.add_class("error")
            box.display = True
            return
        except ClinicastError as e:  # a refusal: in the dialog's message line, as an assign's
            self._message(str(e))
            return
        self.report = report
        self._message("")
        box.update(csv_report_text(report))
        box.remove_class("error")
        box.display = True
        button = self.query_one("#assign-csv", Button)
        n = len(report.found)
        button.disabled = n == 0
        button.label = _("Assign {n}").format(n=fmt.num(n)) if n else _("Assign")
        if n:
            button.focus()

    def on_key(self, event: events.Key) -> None:
        """After a check the cursor is on Assign, yet the receptionist who types is still
        at the path (another file's name, a letter to fix): what she types goes there, and
        a changed path cancels the report — never lost, leaving her enter to assign the
        file checked before."""
        button = self.query_one("#assign-csv", Button)
        if self.focused is not button:
            return
        path = self.query_one("#csv-path", Input)
        edits = {
            "backspace": path.action_delete_left,
            "ctrl+u": path.action_delete_left_all,
            "ctrl+w": path.action_delete_left_word,
        }
        if event.key not in edits and not (event.is_printable and event.character):
            return
        event.stop()
        event.prevent_default()
        path.focus()
        path.action_end()
        if event.key in edits:
            edits[event.key]()
        else:
            path.insert_text_at_cursor(event.character or "")

    @on(Button.Pressed, "#assign-csv")
    def _assign_csv_pressed(self) -> None:
        if self.report is not None and self.report.found:
            self._assign(recipients.assign_ids, self.report.found)
