"""Pickers: a template variable to insert, a patient to preview for."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from core import templating
from core.i18n import N_, _
from tui.screens.base import ClinicastModal
from tui.widgets.patient_search import PatientSearch


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
        yield Footer(compact=True)

    def _options(self) -> list[Option]:
        options = []
        for v in templating.variables_for(self.kind, self.field):
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(f"{v.name:<23}", style="bold")
            label.append(v.description_words)
            label.append("  " + _("e.g. {example}").format(example=v.example_in(self.language)), style="dim")
            options.append(Option(label, id=v.name))
        return options

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
        yield Footer(compact=True)

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
