"""The one catalogue of recipient conditions: `FIELD OP VALUE` (SPEC §4, §9).

Used by `recipients add --where`, the TUI's condition builder (labels, descriptions,
operators and choices come from here) and the live count. Text becomes a typed
`Condition` with `parse`; conditions become a Peewee expression on Patient with
`compile` (never SQL built from strings); `describe` turns one back into text.

Semantics (decisions):
- Text comparisons ignore case: `=`/`!=` compare LOWER() of both sides, `contains` and
  `starts with` are LOWER(column) LIKE LOWER(pattern) with `%` `_` `\\` escaped. (On
  SQLite, LOWER folds ASCII letters only; PostgreSQL folds every letter.) Postal codes
  also ignore spaces (`starts with h2x1` finds `H2X 1Y4`).
- `is empty` on text is '' or NULL; on age and dates it is "unknown" (NULL).
- A field with no value (unknown birth date) never matches `=`, `!=`, `<`... on it.
- `age` is whole years in the clinic's time zone on `today`; someone born on Feb 29
  turns a year older on Mar 1 in non-leap years (the usual `today.year - dob.year -
  (birthday not reached yet)` rule). `age >= 18` is `date_of_birth <= today - 18 years`.
- `connected_system = patient_app` means the patient has an app account (app_id set);
  `!= patient_app` means not on the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import reduce
from typing import Any

import peewee as pw

from . import dates
from .csvio import fold
from .db import is_postgres
from .errors import BadInput
from .models import Patient
from .patients import FALSE, LANGUAGES, SEXES, TRUE


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


# --- parsing -------------------------------------------------------------------------


def _field_pattern(name: str) -> str:
    return r"[ _]+".join(map(re.escape, name.split("_")))


_FIELD_RE = re.compile(
    r"\s*(" + "|".join(_field_pattern(n) for n in sorted(FIELDS, key=len, reverse=True)) + r")(?![\w])", re.IGNORECASE
)
_OP_RE = re.compile(
    r"\s*("
    + "|".join(
        (r"\s+".join(map(re.escape, a.split())) + (r"\b" if a[-1].isalpha() else ""))
        for a in sorted(OPERATOR_ALIASES, key=len, reverse=True)
    )
    + r")",
    re.IGNORECASE,
)
_ANY_OP = re.compile(
    r"(>=|<=|!=|<>|==|=|<|>|≠|≤|≥|\b(?:is|contains|starts\s+with|startswith|begins\s+with)\b)", re.IGNORECASE
)


def field_names() -> str:
    return ", ".join(FIELDS)


def parse(text: str) -> Condition:
    """`FIELD OP VALUE` -> Condition; field names and word operators ignore case, a space
    may replace `_` (`connected system != patient app`), `is`/`is not` read as `=`/`!=`,
    a value may be wrapped in double quotes. Raises ConditionError."""
    shown = " ".join(text.split())
    if not shown:
        raise ConditionError(f"empty condition; expected FIELD OP VALUE, e.g. `age >= 18` (fields: {field_names()})")
    m = _FIELD_RE.match(text)
    if not m:
        op = _ANY_OP.search(text)
        name = (text[: op.start()] if op and op.start() > 0 else text.split()[0]).strip()
        raise ConditionError(f"{shown}: unknown field {name!r}; expected one of {field_names()}")
    field = re.sub(r"[\s_]+", "_", m.group(1).lower())
    rest = text[m.end() :]
    o = _OP_RE.match(rest)
    if not o:
        word = rest.split()[0] if rest.split() else ""
        what = f"unknown operator {word!r}" if word else "missing operator"
        raise ConditionError(f"{shown}: {what}; expected one of {', '.join(OPERATORS)}")
    op = OPERATOR_ALIASES[" ".join(o.group(1).lower().split())]
    return make(field, op, rest[o.end() :], shown=shown)


def make(field: str, op: str, value: str = "", *, shown: str | None = None) -> Condition:
    """A Condition from its three parts as typed (the TUI builder's row); raises
    ConditionError when the field, the operator or the value does not fit."""
    name = re.sub(r"[ _]+", "_", field.strip().lower())
    shown = shown or " ".join(f"{field} {op} {value}".split())
    f = FIELDS.get(name)
    if f is None:
        raise ConditionError(f"{shown}: unknown field {field.strip()!r}; expected one of {field_names()}")
    canon = OPERATOR_ALIASES.get(" ".join(op.lower().split()))
    if canon is None:
        raise ConditionError(f"{shown}: unknown operator {op!r}; expected one of {', '.join(OPERATORS)}")
    if canon not in f.operators:
        raise ConditionError(
            f"{shown}: {canon!r} does not apply to {f.name} ({_kind(f)}); use one of {', '.join(f.operators)}"
        )
    value = _unquote(value.strip())
    if canon in NO_VALUE:
        if value:
            raise ConditionError(f"{shown}: {canon!r} takes no value, got {value!r}")
        return Condition(f.name, canon, None)
    if not value:
        raise ConditionError(f"{shown}: expected {_expected(f)} after {canon!r}")
    return Condition(f.name, canon, _typed(f, value, shown))


def parse_all(texts: list[str]) -> list[Condition]:
    """Every condition of a list, or one ConditionError listing every problem."""
    out, problems = [], []
    for t in texts:
        try:
            out.append(parse(t))
        except ConditionError as e:
            problems.append(str(e))
    if problems:
        raise ConditionError("\n".join(problems))
    return out


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def _kind(f: Field) -> str:
    if f.type == "enum":
        return "one of " + ", ".join(f.choices)
    return {"int": "a whole number", "date": "a date", "str": "text", "bool": "yes or no"}[f.type]


def _expected(f: Field) -> str:
    if f.type == "enum":
        return " or ".join(f.choices) if len(f.choices) < 3 else ", ".join(f.choices)
    if f.name == "age":
        return "a whole number of years"
    return TYPE_EXPECTED[f.type]


MAX_AGE = 150


def _typed(f: Field, v: str, shown: str):
    bad = ConditionError(f"{shown}: expected {_expected(f)}")
    if f.type == "int":
        if not re.fullmatch(r"\d{1,3}", v):
            raise bad
        n = int(v)
        if n > MAX_AGE:
            raise ConditionError(f"{shown}: expected an age from 0 to {MAX_AGE}")
        return n
    if f.type == "date":
        try:  # one definition of a day and its range, core.dates (issue #8)
            day = dates.parse(v)
        except dates.DateProblem as e:
            raise ConditionError(f"{shown}: expected {e}") from None
        if day is None:
            raise bad
        return day
    if f.type == "bool":
        k = fold(v)
        if k in TRUE:
            return True
        if k in FALSE and k:
            return False
        raise bad
    if f.type == "enum":
        k = fold(v)
        if f.name == "sex":
            s = SEXES.get(k)
            if s:
                return s
        elif f.name == "language":
            s = LANGUAGES.get(k)
            if s:
                return s
        elif f.name == "connected_system":
            if re.sub(r"[\s_-]+", "_", k) in ("patient_app", "app"):
                return "patient_app"
        raise bad
    return v


# --- text again ----------------------------------------------------------------------


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


# --- SQL -----------------------------------------------------------------------------


def years_before(today: date, years: int) -> date:
    """The same day `years` earlier; Feb 29 becomes Feb 28 in a non-leap year."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return date(today.year - years, 2, 28)


def age_of(dob: date, today: date) -> int:
    """Whole years on `today` (the rule `compile` follows)."""
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _age(op: str, n: int, today: date):
    dob = Patient.date_of_birth
    # age >= n  <=>  dob <= years_before(today, n)
    at_least = lambda k: dob <= years_before(today, k)  # noqa: E731
    under = lambda k: dob > years_before(today, k)  # noqa: E731
    return {
        ">=": lambda: at_least(n),
        ">": lambda: at_least(n + 1),
        "<": lambda: under(n),
        "<=": lambda: under(n + 1),
        "=": lambda: under(n + 1) & at_least(n),
        "!=": lambda: at_least(n + 1) | under(n),
    }[op]()


def _like(column, pattern: str):
    """LOWER(column) LIKE LOWER(pattern) ESCAPE '\\' (OP.ILIKE: peewee writes LIKE on
    SQLite, where OP.LIKE would be GLOB; LOWER on both sides keeps it case-insensitive
    on PostgreSQL)."""
    op = pw.OP.LIKE if is_postgres() else pw.OP.ILIKE
    return pw.Expression(
        pw.fn.LOWER(column),
        op,
        pw.NodeList(
            (pw.fn.LOWER(pw.Value(pattern, converter=False)), pw.SQL("ESCAPE"), pw.Value("\\", converter=False))
        ),
    )


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text(field: str, op: str, value: str | None):
    col = COLUMNS[field]
    if op == "is empty":
        return col.is_null() | (col == "")
    if op == "is not empty":
        return col.is_null(False) & (col != "")
    if field == "postal_code":  # H2X1Y4 = H2X 1Y4
        col = pw.fn.REPLACE(col, " ", "")
        value = "".join(value.split())
    if op == "contains":
        return _like(col, "%" + _escape(value) + "%")
    if op == "starts with":
        return _like(col, _escape(value) + "%")
    if op == "=":
        return pw.fn.LOWER(col) == pw.fn.LOWER(pw.Value(value, converter=False))
    return pw.fn.LOWER(col) != pw.fn.LOWER(pw.Value(value, converter=False))


_CMP = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}


def _one(c: Condition, today: date):
    f = FIELDS[c.field]
    col = COLUMNS[c.field]
    if c.field == "connected_system":
        on_app = col.is_null(False) & (col != "")
        return on_app if c.op == "=" else ~on_app
    if c.op in NO_VALUE and f.type in ("int", "date"):
        return col.is_null(c.op == "is empty")
    if f.type == "str":
        return _text(c.field, c.op, c.value)
    if f.type == "enum" and c.op in NO_VALUE:
        return _text(c.field, c.op, None)
    if c.field == "age":
        return _age(c.op, c.value, today)
    return getattr(col, _CMP[c.op])(c.value)


def compile(conds: list[Condition], today: date) -> pw.Expression:
    """One Peewee expression on Patient: every condition must hold. `today` is the
    clinic's date (`ctx.today()`); no condition selects every patient."""
    if not conds:
        return Patient.id.is_null(False)
    return reduce(lambda a, b: a & b, (_one(c, today) for c in conds))


def count(conds: list[Condition], today: date) -> int:
    """How many patients match, for the builder's live preview."""
    return Patient.select().where(compile(conds, today)).count()
