"""Pickers: a template variable to insert, a patient to preview for, a value patients have."""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from core import conditions, templating
from core.folding import fold
from core.i18n import N_, _
from tui.screens.base import ClinicastModal
from tui.widgets.footer import KeysFooter
from tui.widgets.patient_search import PatientSearch
from tui.widgets.text_input import TextInput


class VariableLine:
    """A variable of the picker on as many lines as its words need at the width it has:
    its name in a column of its own; beside it its description and example on one line
    where they fit, else the description (wrapped) with the example on a line of its own —
    never « p. » on one line and « ex. » on the next. At 80 columns, in French, one line
    each cut them off (« Lien de désabonnement personnel (requis dans cha… »)."""

    GAP = 2

    def __init__(self, name: str, name_width: int, description: str, example: str) -> None:
        self.name, self.name_width, self.description, self.example = name, name_width, description, example

    def __str__(self) -> str:  # its words as plain text (what a search or a test reads)
        return f"{self.name}  {self.description}  {self.example}"

    def _said(self, room: int) -> Text:
        said = Text(self.description, overflow="fold")
        one_line = cell_len(self.description) + self.GAP + cell_len(self.example) <= room
        said.append(" " * self.GAP if one_line else "\n")
        example = self.example
        label, _space, value = example.rpartition(" ")
        if room > 0 and cell_len(example) > room and cell_len(value) > room - cell_len(label) - 1:
            # a link longer than the line: cut where the line ends, not before it (« p. ex. »
            # alone on a line, the link on the next ones)
            example = "\n".join(chop_cells(example, room))
        said.append(example, style="dim")
        return said

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        row = Table.grid(padding=(0, self.GAP), expand=True)
        row.add_column(width=self.name_width, no_wrap=True)
        row.add_column(ratio=1, overflow="fold")
        row.add_row(Text(self.name, style="bold"), self._said(options.max_width - self.name_width - self.GAP))
        yield row

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widest = self.name_width + self.GAP + cell_len(self.description) + self.GAP + cell_len(self.example)
        return Measurement(min(self.name_width + self.GAP + 20, widest), widest)


class VariablePicker(ClinicastModal[str | None]):
    """Every variable usable in this field, with its description and an example."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"), key_display="esc", id="variable.cancel")]

    def __init__(self, kind: str, field: str, language: str) -> None:
        super().__init__()
        self.kind, self.field, self.language = kind, field, language

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="variable-dialog") as box:
            box.border_title = _("Insert a variable")
            yield OptionList(*self._options(), id="variables")
            yield Static(_("enter inserts it at the cursor; escape closes"), classes="hint")
        yield KeysFooter()

    def _options(self) -> list[Option]:
        variables = templating.variables_for(self.kind, self.field)
        name_width = max((cell_len(v.name) for v in variables), default=0)
        return [
            Option(
                VariableLine(
                    v.name,
                    name_width,
                    v.description_words,
                    _("e.g. {example}").format(example=v.example_in(self.language)),
                ),
                id=v.name,
            )
            for v in variables
        ]

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#variable-dialog").border_title = _("Insert a variable")
        self.query_one(".hint", Static).update(_("enter inserts it at the cursor; escape closes"))
        variables = self.query_one(OptionList)
        at = variables.highlighted
        variables.clear_options().add_options(self._options())
        variables.highlighted = at

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class PatientPicker(ClinicastModal[int | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"), key_display="esc", id="patient-picker.cancel")]

    def __init__(self, title: Callable[[], str]) -> None:
        super().__init__()
        self.dialog_title = title  # in the language in use (called again after a switch)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tall", id="patient-dialog") as box:
            box.border_title = self.dialog_title()
            yield PatientSearch()
        yield KeysFooter()

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#patient-dialog").border_title = self.dialog_title()
        for search in self.query(PatientSearch):
            search.relabel()

    def on_mount(self) -> None:
        self.query_one(PatientSearch).focus_query()

    @on(PatientSearch.Chosen)
    def _chosen(self, event: PatientSearch.Chosen) -> None:
        self.dismiss(event.patient_id)


class ValuePicker(ClinicastModal[str | None]):
    """The values patients have in a listed field (the practitioners), to choose the one
    a condition compares with: typing narrows the list (case and accents aside), ↑/↓ move,
    enter chooses, escape leaves the value as it was. The list opens on `best` (the
    closest to a value no patient has, or the value typed)."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel"), key_display="esc", id="value-picker.cancel"),
        Binding("down", "move(1)", N_("Next option"), show=False),
        Binding("up", "move(-1)", N_("Previous option"), show=False),
    ]

    def __init__(self, field: str, values: list[str], best: str = "") -> None:
        super().__init__()
        self.field, self.values, self.best = field, values, best
        self.shown: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="value-dialog") as box:
            box.border_title = self._title()
            yield TextInput(placeholder=self._placeholder(), id="value-filter", compact=True)
            yield OptionList(id="values")
            yield Static(self._hint(), classes="hint")
        yield KeysFooter()

    def _title(self) -> str:
        return _("{field}: the values patients have").format(field=conditions.FIELDS[self.field].label_words)

    @staticmethod
    def _placeholder() -> str:
        return _("type to narrow the list")

    @staticmethod
    def _hint() -> str:
        return _("enter chooses it; escape closes")

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#value-dialog").border_title = self._title()
        self.query_one("#value-filter", Input).placeholder = self._placeholder()
        self.query_one(".hint", Static).update(self._hint())

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#value-filter").focus()

    def _fill(self, typed: str) -> None:
        key = fold(typed)
        self.shown = [v for v in self.values if key in fold(v)]
        options = self.query_one(OptionList)
        options.clear_options().add_options([Option(v) for v in self.shown])
        if self.shown:
            best = fold(self.best)
            at = next((i for i, v in enumerate(self.shown) if fold(v) == best), 0)
            options.highlighted = at

    @on(Input.Changed, "#value-filter")
    def _narrow(self, event: Input.Changed) -> None:
        event.stop()
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if self.shown:
            at = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(len(self.shown) - 1, at + step))

    @on(Input.Submitted, "#value-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        at = self.query_one(OptionList).highlighted
        if self.shown and at is not None:
            self.dismiss(self.shown[at])

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index])
