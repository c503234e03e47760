"""The catalogue of recipient conditions: the operators, the fields (with the TUI
builder's labels, descriptions and choices) and the typed `Condition`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from core.errors import BadInput
from core.i18n import N_, _
from core.models import Patient


class ConditionError(BadInput):
    """A condition that cannot be understood; the message names the condition and what
    was expected."""


OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "contains", "starts with", "is empty", "is not empty")
NO_VALUE = ("is empty", "is not empty")
# the operators comparing a whole value: a text value no patient has is said (core.conditions.values)
WHOLE = ("=", "!=")
OPERATOR_LABELS = {
    "=": N_("is"),
    "!=": N_("is not"),
    "<": N_("less than / before"),
    "<=": N_("at most / on or before"),
    ">": N_("more than / after"),
    ">=": N_("at least / on or after"),
    "contains": N_("contains"),
    "starts with": N_("starts with"),
    "is empty": N_("is empty"),
    "is not empty": N_("is not empty"),
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
    "int": N_("a whole number"),
    "date": N_("a date YYYY-MM-DD"),
    "str": N_("some text"),
    "bool": N_("yes or no (oui/non, true/false, 1/0)"),
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
    # text whose values are a short list many patients share (the practitioners): the
    # builder offers them, and a value no patient has is matched against all of them
    listed: bool = False

    # the label and description are msgids (N_): these are their words in the language in use
    @property
    def label_words(self) -> str:
        return _(self.label)

    @property
    def description_words(self) -> str:
        return _(self.description)


def operator_label(op: str) -> str:
    """An operator in words (« est », "less than / before"), in the language in use."""
    return _(OPERATOR_LABELS[op]) if op in OPERATOR_LABELS else op


def _f(name, type_, label, description, example, choices=(), operators=None, listed=False) -> Field:
    return Field(
        name,
        type_,
        label,
        description,
        operators or TYPE_OPERATORS[type_],
        choices or (("yes", "no") if type_ == "bool" else ()),
        example,
        listed,
    )


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        _f("age", "int", N_("Age"), N_("Age in whole years today (from the date of birth)."), "18"),
        _f("sex", "enum", N_("Sex"), N_("Sex in the patient file: F, M or X."), "F", ("F", "M", "X")),
        _f("language", "enum", N_("Language"), N_("Preferred language: fr or en."), "fr", ("fr", "en")),
        _f(
            "practitioner",
            "str",
            N_("Practitioner"),
            N_("The patient's practitioner, as in the EMR export."),
            "Dre Côté",
            listed=True,
        ),
        _f("postal_code", "str", N_("Postal code"), N_("Postal code; `starts with H2X` selects an area."), "H2X"),
        _f("last_visit", "date", N_("Last visit"), N_("Date of the last visit (YYYY-MM-DD)."), "2024-01-01"),
        _f("date_of_birth", "date", N_("Date of birth"), N_("Date of birth (YYYY-MM-DD)."), "1960-01-01"),
        _f("email", "str", N_("Email"), N_("Email address; `is empty` finds patients without one."), "@example.org"),
        _f(
            "connected_system",
            "enum",
            N_("Connected system"),
            N_("patient_app: the patient has an account on the patient app (`!=` = not on the app)."),
            "patient_app",
            ("patient_app",),
            ("=", "!="),
        ),
        _f(
            "marketing_consent",
            "bool",
            N_("Marketing consent"),
            N_("The patient agreed to receive marketing messages."),
            "yes",
        ),
        _f(
            "push_enabled",
            "bool",
            N_("Push notifications"),
            N_("The patient allows push notifications from the app."),
            "yes",
        ),
    )
}

# what a choice means, for the builder (conditions keep the canonical value: `patient_app`)
CHOICE_LABELS = {
    ("connected_system", "patient_app"): N_("on the patient app"),
    ("language", "fr"): N_("French"),
    ("language", "en"): N_("English"),
    ("sex", "F"): N_("female (F)"),
    ("sex", "M"): N_("male (M)"),
    ("sex", "X"): N_("another (X)"),
    ("", "yes"): N_("yes"),
    ("", "no"): N_("no"),
}


def choice_label(field: str, value: str) -> str:
    """A choice in words ("on the patient app" for `patient_app`), in the staff's language."""
    label = CHOICE_LABELS.get((field, value)) or CHOICE_LABELS.get(("", value))
    return _(label) if label else value


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


def words(field: str, op: str, value: str = "") -> str:
    """A condition as staff read it — « Médecin est Dre Côté », its field's label and not
    the condition language's name (`age`), a choice in words: what the TUI says of a row
    that is wrong and what the audit trail says was assigned by."""
    f = FIELDS.get(field)
    if f is None:
        return " ".join(f"{field} {op} {value}".split())
    shown = choice_label(field, value) if f.choices else value
    # a sign as it is (=, >=), an operator in words in the language in use (« contient »)
    sign = operator_label(op) if op[:1].isalpha() else op
    return " ".join(f"{f.label_words} {sign} {shown}".split())


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
