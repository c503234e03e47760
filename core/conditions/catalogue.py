"""The catalogue of recipient conditions: the operators, the fields (with the TUI
builder's labels, descriptions and choices) and the typed `Condition`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from core.errors import BadInput
from core.models import Patient


class ConditionError(BadInput):
    """A condition that cannot be understood; the message names the condition and what
    was expected."""


OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains", "starts with", "is empty", "is not empty")
NO_VALUE = ("is empty", "is not empty")
OPERATOR_LABELS = {
    "=": "is",
    "!=": "is not",
    "<": "less than / before",
    "<=": "at most / on or before",
    ">": "more than / after",
    ">=": "at least / on or after",
    "contains": "contains",
    "starts with": "starts with",
    "is empty": "is empty",
    "is not empty": "is not empty",
}
# spellings accepted in text, longest first so "is not empty" wins over "is not"
OPERATOR_ALIASES = {
    "=": "=",
    "==": "=",
    "is": "=",
    "!=": "!=",
    "<>": "!=",
    "≠": "!=",
    "is not": "!=",
    "<": "<",
    "<=": "<=",
    "≤": "<=",
    ">": ">",
    ">=": ">=",
    "≥": ">=",
    "contains": "contains",
    "starts with": "starts with",
    "startswith": "starts with",
    "begins with": "starts with",
    "is empty": "is empty",
    "is not empty": "is not empty",
}

ORDERED = ("=", "!=", "<", "<=", ">", ">=", "is empty", "is not empty")
TYPE_OPERATORS = {
    "int": ORDERED,
    "date": ORDERED,
    "str": ("=", "!=", "contains", "starts with", "is empty", "is not empty"),
    "enum": ("=", "!=", "is empty", "is not empty"),
    "bool": ("=", "!="),
}
TYPE_EXPECTED = {
    "int": "a whole number",
    "date": "a date YYYY-MM-DD",
    "str": "some text",
    "bool": "yes or no (oui/non, true/false, 1/0)",
}


@dataclass(frozen=True)
class Field:
    name: str  # as written in conditions: `connected_system`
    type: str  # int, str, date, bool, enum
    label: str  # for the TUI builder
    description: str
    operators: tuple[str, ...]
    choices: tuple[str, ...] = ()  # enum values (canonical), bool: ("yes", "no")
    example: str = ""  # a value, for placeholders and help


def _f(name, type_, label, description, example, choices=(), operators=None) -> Field:
    return Field(
        name,
        type_,
        label,
        description,
        operators or TYPE_OPERATORS[type_],
        choices or (("yes", "no") if type_ == "bool" else ()),
        example,
    )


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _f("age", "int", "Age", "Age in whole years today (from the date of birth).", "18"),
        _f("sex", "enum", "Sex", "Sex in the patient file: F, M or X.", "F", ("F", "M", "X")),
        _f("language", "enum", "Language", "Preferred language: fr or en.", "fr", ("fr", "en")),
        _f("practitioner", "str", "Practitioner", "The patient's practitioner, as in the EMR export.", "Dre Côté"),
        _f("postal_code", "str", "Postal code", "Postal code; `starts with H2X` selects an area.", "H2X"),
        _f("last_visit", "date", "Last visit", "Date of the last visit (YYYY-MM-DD).", "2024-01-01"),
        _f("date_of_birth", "date", "Date of birth", "Date of birth (YYYY-MM-DD).", "1960-01-01"),
        _f("email", "str", "Email", "Email address; `is empty` finds patients without one.", "@example.org"),
        _f(
            "connected_system",
            "enum",
            "Connected system",
            "patient_app: the patient has an account on the patient app (`!=` = not on the app).",
            "patient_app",
            ("patient_app",),
            ("=", "!="),
        ),
        _f(
            "marketing_consent", "bool", "Marketing consent", "The patient agreed to receive marketing messages.", "yes"
        ),
        _f("push_enabled", "bool", "Push notifications", "The patient allows push notifications from the app.", "yes"),
    )
}

COLUMNS = {
    "age": Patient.date_of_birth,
    "sex": Patient.sex,
    "language": Patient.language,
    "practitioner": Patient.practitioner,
    "postal_code": Patient.postal_code,
    "last_visit": Patient.last_visit,
    "date_of_birth": Patient.date_of_birth,
    "email": Patient.email,
    "connected_system": Patient.app_id,
    "marketing_consent": Patient.marketing_consent,
    "push_enabled": Patient.push_enabled,
}


@dataclass(frozen=True)
class Condition:
    field: str  # a FIELDS key
    op: str  # one of OPERATORS
    value: Any = None  # int, date, bool or str (enums canonical); None for is (not) empty

    def __str__(self) -> str:
        return describe(self)


def describe(cond: Condition) -> str:
    """The text of a condition; `parse(describe(c)) == c`."""
    if cond.op in NO_VALUE:
        return f"{cond.field} {cond.op}"
    v = cond.value
    if isinstance(v, bool):
        text = "yes" if v else "no"
    elif isinstance(v, date):
        text = v.isoformat()
    else:
        text = str(v)
        if text != text.strip() or text[:1] in "\"'" or not text:
            text = f'"{text}"'
    return f"{cond.field} {cond.op} {text}"
