"""One row of the conditions builder: field · operator · value, from the core catalogue."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Select, Static

from core import conditions
from core.i18n import _
from tui.widgets.text_input import TextInput


class ConditionRow(Vertical):
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
            yield from self._value_widget(field, value)
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
    def _value_widget(field: str | None, value: str = ""):
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
            yield TextInput(
                value,
                placeholder=_("e.g. {example}").format(example=f.example) if f else _("value"),
                compact=True,
                classes="cond-value",
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
        label.display = bool(message)

    def on_mount(self) -> None:
        self.show_error("")
        self._show_value()

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
        new = next(iter(self._value_widget(field)))
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
