"""The one catalogue of recipient conditions: `FIELD OP VALUE` (SPEC §4, §9).

Used by `recipients add --where`, the TUI's condition builder (labels, descriptions,
operators and choices come from here) and the live count. Text becomes a typed
`Condition` with `parse`; conditions become a Peewee expression on Patient with
`compile` (never SQL built from strings); `describe` turns one back into text.

    catalogue.py   operators, FIELDS, COLUMNS, Condition, ConditionError, describe, words
    text.py        parse, make, parse_all
    sql.py         compile, count, age_of, years_before
    values.py      unknown_values (a value no patient has, with suggestions), existing, closest

Semantics (decisions):
- Text comparisons ignore case: `=`/`!=` compare LOWER() of both sides, `contains` and
  `starts with` are LOWER(column) LIKE LOWER(pattern) with `%` `_` `\\` escaped. Every
  letter folds (SQLite through clinicast's own Unicode lower(), core.db; PostgreSQL by
  its UTF-8 locale); accents count (`Cote` is not `Côté`). Postal codes also ignore spaces
  (`starts with h2x1` finds `H2X 1Y4`).
- `=` / `!=` on text with a value no patient has is said with the closest values that
  exist (values.py); an assign by such a condition is refused unless confirmed.
- `is empty` on text is '' or NULL; on age and dates it is "unknown" (NULL).
- A field with no value (unknown birth date) never matches `=`, `!=`, `<`... on it.
- `age` is whole years in the clinic's time zone on `today`; someone born on Feb 29
  turns a year older on Mar 1 in non-leap years (the usual `today.year - dob.year -
  (birthday not reached yet)` rule). `age >= 18` is `date_of_birth <= today - 18 years`.
- `connected_system = patient_app` means the patient has an app account (app_id set);
  `!= patient_app` means not on the app.
"""

from core.conditions.catalogue import (
    COLUMNS,
    FIELDS,
    NO_VALUE,
    OPERATOR_ALIASES,
    OPERATOR_LABELS,
    OPERATORS,
    ORDERED,
    TYPE_EXPECTED,
    TYPE_OPERATORS,
    WHOLE,
    Condition,
    ConditionError,
    Field,
    choice_label,
    describe,
    operator_label,
    words,
)
from core.conditions.sql import age_of, compile, count, years_before
from core.conditions.text import MAX_AGE, field_names, make, parse, parse_all
from core.conditions.values import UnknownValue, UnknownValues, closest, existing, unknown_values

__all__ = [
    "COLUMNS",
    "FIELDS",
    "MAX_AGE",
    "NO_VALUE",
    "OPERATORS",
    "OPERATOR_ALIASES",
    "OPERATOR_LABELS",
    "ORDERED",
    "TYPE_EXPECTED",
    "TYPE_OPERATORS",
    "WHOLE",
    "Condition",
    "ConditionError",
    "Field",
    "UnknownValue",
    "UnknownValues",
    "age_of",
    "choice_label",
    "closest",
    "existing",
    "operator_label",
    "compile",
    "count",
    "describe",
    "field_names",
    "make",
    "parse",
    "parse_all",
    "unknown_values",
    "words",
    "years_before",
]
