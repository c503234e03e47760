"""Conditions as SQL: one Peewee expression on Patient (never SQL built from strings),
and the live count of the TUI builder."""

from __future__ import annotations

from datetime import date
from functools import reduce

import peewee as pw

from core.conditions.catalogue import COLUMNS, FIELDS, NO_VALUE, Condition
from core.db import is_postgres
from core.enums import Permission
from core.models import Patient


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


def _blank(col, empty: bool):
    """`is empty` on text: '' or NULL."""
    return col.is_null() | (col == "") if empty else col.is_null(False) & (col != "")


def _text(field: str, op: str, value: str):
    col = COLUMNS[field]
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
    if c.op in NO_VALUE:  # unknown (NULL) for age and dates; '' or NULL for text and enums
        return col.is_null(c.op == "is empty") if f.type in ("int", "date") else _blank(col, c.op == "is empty")
    if f.type == "str":
        return _text(c.field, c.op, c.value)
    if c.field == "age":
        return _age(c.op, c.value, today)
    return getattr(col, _CMP[c.op])(c.value)


def compile(conds: list[Condition], today: date) -> pw.Expression:
    """One Peewee expression on Patient: every condition must hold. `today` is the
    clinic's date (`ctx.today()`); no condition selects every patient."""
    if not conds:
        return Patient.id.is_null(False)
    return reduce(lambda a, b: a & b, (_one(c, today) for c in conds))


def count(ctx, conds: list[Condition]) -> int:
    """How many patients match, for the builder's live preview: a read of the patient
    directory, so it needs the "campaigns" permission like every other (SPEC §6)."""
    ctx.require(Permission.CAMPAIGNS)
    return Patient.select().where(compile(conds, ctx.today())).count()
