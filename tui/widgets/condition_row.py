"""One row of the conditions builder: field · operator · value, from the core catalogue.

A listed field's value (the practitioner) offers the values patients have: completed as
one types (→ takes it), and ↓ opens the list of them (tui.screens.pickers.ValuePicker).
Below the row, what is wrong with it (red) or what core warns of (yellow: a value no
patient has, with the closest ones)."""

from __future__ import annotations

import asyncio

from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Button, Input, Select, Static

from core import conditions
from core.folding import fold
from core.i18n import N_, _
from tui.app import ClinicastApp
from tui.widgets.text_input import TextInput


class ValueSuggester(Suggester):
    """Completes a value with the first of `values` that starts as typed, case and
    accents aside (« dr j » → « Dr Jean-François Gagnon »); → takes it, as patients have it."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.values: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        typed = fold(value)
        if not typed:
            return None
        return next((v for v in self.values if len(v) > len(value) and fold(v[: len(value)]) == typed), None)


class ValueInput(TextInput):
    """A condition's value typed; for a listed field, ↓ asks for the list of the values
    patients have (ValueInput.ListWanted, to the row)."""

    BINDINGS = [Binding("down", "values", N_("Values"), key_display="↓", id="add.values")]

    class ListWanted(Message):
        pass

    def __init__(self, *args, listed: bool = False, **kw) -> None:
        super().__init__(*args, **kw)
        self.listed = listed

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "values":
            return self.listed  # else ↓ is the rows' own (scrolling)
        return super().check_action(action, parameters)

    def action_values(self) -> None:
        self.post_message(self.ListWanted())


class ConditionRow(Vertical):
    app = getters.app(ClinicastApp)

    DEFAULT_CSS = """
    ConditionRow { height: auto; }
    ConditionRow > Horizontal { height: 1; }
    ConditionRow .cond-field { width: 22; }
    ConditionRow .cond-op { width: 26; margin-left: 1; }
    ConditionRow .cond-value { width: 1fr; margin-left: 1; }
    ConditionRow Input.cond-value { background: $boost; }
    ConditionRow Input.cond-value:focus { background: $primary 25%; }
    ConditionRow .cond-delete { width: 3; min-width: 3; margin-left: 1; }
    ConditionRow .cond-error { height: auto; color: $error; padding-left: 1; }
    ConditionRow .cond-error.warning { color: $warning; }
    """

    class Changed(Message):
        def __init__(self, row: ConditionRow) -> None:
            super().__init__()
            self.row = row

    class Delete(Message):
        def __init__(self, row: ConditionRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, field: str | None = None, op: str | None = None, value: str = "") -> None:
        super().__init__()
        self._initial = (field, op, value)
        self.values: list[str] = []  # a listed field's values, as patients have them (core.conditions.existing)
        self.suggestions: tuple[str, ...] = ()  # the closest values to one no patient has
        self.suggester = ValueSuggester()

    def compose(self) -> ComposeResult:
        field, op, value = self._initial
        with Horizontal():
            yield Select(
                [(f.label_words, f.name) for f in conditions.FIELDS.values()],
                prompt=_("field…"),
                value=field or Select.NULL,
                compact=True,
                classes="cond-field",
            )
            yield Select(
                self._op_options(field),
                prompt=_("comparator…"),
                value=op if op else Select.NULL,
                compact=True,
                classes="cond-op",
            )
            yield from self._value_widget(field, value, self.suggester)
            yield Button("✕", compact=True, classes="cond-delete", tooltip=_("Delete this condition"))
        yield Static("", classes="cond-error")

    @staticmethod
    def _op_options(field: str | None) -> list[tuple[str, str]]:
        if not field:
            return []
        # a sign keeps its code beside its words ("is  (=)"); a word-operator is its words,
        # in the language in use ("is empty": « est vide »)
        return [
            (
                f"{conditions.operator_label(o)}  ({o})"
                if conditions.OPERATOR_LABELS[o] != o
                else conditions.operator_label(o),
                o,
            )
            for o in conditions.FIELDS[field].operators
        ]

    @staticmethod
    def _value_widget(field: str | None, value: str = "", suggester: Suggester | None = None):
        f = conditions.FIELDS.get(field or "")
        if f is not None and f.choices:
            yield Select(
                [(conditions.choice_label(f.name, c), c) for c in f.choices],
                allow_blank=False,
                compact=True,
                value=value if value in f.choices else f.choices[0],
                classes="cond-value",
            )
        else:
            listed = f is not None and f.listed
            yield ValueInput(
                value,
                placeholder=_("e.g. {example}").format(example=f.example) if f else _("value"),
                compact=True,
                classes="cond-value",
                listed=listed,
                suggester=suggester if listed else None,
            )

    # --- reading -------------------------------------------------------------------

    def parts(self) -> tuple[str, str, str] | None:
        """(field, operator, value as typed), or None while the row is not filled in — a
        value still to type is not a mistake to show (it was, as soon as an operator was
        chosen: « practitioner = : expected text after '=' »)."""
        field = self.query_one(".cond-field", Select).value
        op = self.query_one(".cond-op", Select).value
        if field is Select.NULL or op is Select.NULL:
            return None
        w = self.query_one(".cond-value")
        value = w.value if isinstance(w, (Input, Select)) else ""
        if value is Select.NULL:
            value = ""
        if not str(value or "").strip() and op not in conditions.NO_VALUE:
            return None
        return str(field), str(op), str(value or "")

    def touched(self) -> bool:
        """A field chosen: something staff would lose by closing."""
        return self.query_one(".cond-field", Select).value is not Select.NULL

    def show_error(self, message: str) -> None:
        label = self.query_one(".cond-error", Static)
        label.update(message)
        label.remove_class("warning")
        label.display = bool(message)
        self.suggestions = ()

    def show_warning(self, warning: conditions.UnknownValue | None) -> None:
        """What core warns of this row's condition (a value no patient has, with the closest
        ones, which ↓'s list puts first), or nothing."""
        label = self.query_one(".cond-error", Static)
        label.update(warning.words() if warning else "")
        label.add_class("warning")
        label.display = warning is not None
        self.suggestions = warning.suggestions if warning else ()

    def on_mount(self) -> None:
        self.show_error("")
        self._show_value()
        self._load_values(self._initial[0])

    @work(exclusive=True, exit_on_error=False, group="values")
    async def _load_values(self, field: str | None) -> None:
        """A listed field's values, read once it is chosen (for completion and ↓'s list)."""
        f = conditions.FIELDS.get(field or "")
        values = await asyncio.to_thread(conditions.existing, self.app.ctx, f.name) if f and f.listed else []
        self.values = self.suggester.values = values

    @on(ValueInput.ListWanted)
    def _list_wanted(self, event: ValueInput.ListWanted) -> None:
        from tui.screens.pickers import ValuePicker

        event.stop()
        field = self.query_one(".cond-field", Select).value
        w = self.query_one(".cond-value", Input)
        if field is Select.NULL or not self.values:
            return

        def chosen(value: str | None) -> None:
            if value is not None and w.is_mounted:
                w.value = value
                w.cursor_position = len(value)
            if w.is_mounted:
                w.focus()

        best = self.suggestions[0] if self.suggestions else w.value
        self.app.push_screen(ValuePicker(str(field), self.values, best), chosen)

    def _show_value(self) -> None:
        op = self.query_one(".cond-op", Select).value
        self.query_one(".cond-value").display = op not in conditions.NO_VALUE

    # --- events --------------------------------------------------------------------

    @on(Select.Changed, ".cond-field")
    async def _field_changed(self, event: Select.Changed) -> None:
        event.stop()
        field = None if event.value is Select.NULL else str(event.value)
        op = self.query_one(".cond-op", Select)
        kept = op.value  # the comparator chosen stays when the new field has it too
        op.set_options(self._op_options(field))
        if field and conditions.FIELDS[field].operators:
            ops = conditions.FIELDS[field].operators
            op.value = kept if kept in ops else ops[0]
        old = self.query_one(".cond-value")
        new = next(iter(self._value_widget(field, suggester=self.suggester)))
        self.values = self.suggester.values = []
        self._load_values(field)
        await old.remove()
        await self.query_one(Horizontal).mount(new, before=self.query_one(".cond-delete"))
        self._show_value()
        self.post_message(self.Changed(self))

    @on(Select.Changed, ".cond-op")
    @on(Select.Changed, ".cond-value")
    @on(Input.Changed, ".cond-value")
    def _changed(self, event: Message) -> None:
        event.stop()
        self._show_value()
        self.post_message(self.Changed(self))

    @on(Button.Pressed, ".cond-delete")
    def _delete(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Delete(self))
