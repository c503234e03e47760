"""Conditions as text: `parse` (`FIELD OP VALUE`), `make` (the builder's three parts)
and `parse_all`; `parse(describe(c)) == c` (`describe` is the Condition's own text, in catalogue)."""

from __future__ import annotations

import re

from core import dates
from core.conditions.catalogue import (
    FIELDS,
    NO_VALUE,
    OPERATOR_ALIASES,
    OPERATORS,
    TYPE_EXPECTED,
    Condition,
    ConditionError,
    Field,
)
from core.folding import fold
from core.i18n import _
from core.patients.cells import FALSE, LANGUAGES, SEXES, TRUE
from core.textcheck import quoted_value


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
        raise ConditionError(
            _("empty condition; expected FIELD OP VALUE, e.g. `age >= 18` (fields: {fields})").format(
                fields=field_names()
            )
        )
    m = _FIELD_RE.match(text)
    if not m:
        hit = _ANY_OP.search(text)
        name = (text[: hit.start()] if hit and hit.start() > 0 else text.split()[0]).strip()
        raise ConditionError(
            _("{condition}: unknown field {name}; expected one of {fields}").format(
                condition=shown, name=quoted_value(name), fields=field_names()
            )
        )
    field = re.sub(r"[\s_]+", "_", m.group(1).lower())
    rest = text[m.end() :]
    o = _OP_RE.match(rest)
    if not o:
        word = rest.split()[0] if rest.split() else ""
        if word:
            said = _("{condition}: unknown operator {op}; expected one of {operators}")
        else:
            said = _("{condition}: missing operator; expected one of {operators}")
        raise ConditionError(said.format(condition=shown, op=quoted_value(word), operators=", ".join(OPERATORS)))
    op = OPERATOR_ALIASES[" ".join(o.group(1).lower().split())]
    return make(field, op, rest[o.end() :], shown=shown)


def make(field: str, op: str, value: str = "", *, shown: str | None = None) -> Condition:
    """A Condition from its three parts as typed (the TUI builder's row); raises
    ConditionError when the field, the operator or the value does not fit."""
    name = re.sub(r"[ _]+", "_", field.strip().lower())
    shown = shown or " ".join(f"{field} {op} {value}".split())
    f = FIELDS.get(name)
    if f is None:
        raise ConditionError(
            _("{condition}: unknown field {name}; expected one of {fields}").format(
                condition=shown, name=quoted_value(field.strip()), fields=field_names()
            )
        )
    canon = OPERATOR_ALIASES.get(" ".join(op.lower().split()))
    if canon is None:
        raise ConditionError(
            _("{condition}: unknown operator {op}; expected one of {operators}").format(
                condition=shown, op=quoted_value(op), operators=", ".join(OPERATORS)
            )
        )
    if canon not in f.operators:
        raise ConditionError(
            _("{condition}: {op} does not apply to {field} ({kind}); use one of {operators}").format(
                condition=shown, op=quoted_value(canon), field=f.name, kind=_kind(f), operators=", ".join(f.operators)
            )
        )
    value = _unquote(value.strip())
    if canon in NO_VALUE:
        if value:
            raise ConditionError(
                _("{condition}: {op} takes no value, got {value}").format(
                    condition=shown, op=quoted_value(canon), value=quoted_value(value)
                )
            )
        return Condition(f.name, canon, None)
    if not value:
        raise ConditionError(
            _("{condition}: expected {what} after {op}").format(
                condition=shown, what=_expected(f), op=quoted_value(canon)
            )
        )
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
        return _("one of {choices}").format(choices=", ".join(f.choices))
    return {
        "int": _("a whole number"),
        "date": _("a date"),
        "str": _("text"),
        "bool": _("yes or no"),
    }[f.type]


def _expected(f: Field) -> str:
    if f.type == "enum":
        return _(" or ").join(f.choices) if len(f.choices) < 3 else ", ".join(f.choices)
    if f.name == "age":
        return _("a whole number of years")
    return _(TYPE_EXPECTED[f.type])


MAX_AGE = 150


def _typed(f: Field, v: str, shown: str):
    bad = ConditionError(_("{field}: expected {what}").format(field=shown, what=_expected(f)))
    if f.type == "int":
        if not re.fullmatch(r"\d{1,3}", v):
            raise bad
        n = int(v)
        if n > MAX_AGE:
            raise ConditionError(_("{field}: expected an age from 0 to {max}").format(field=shown, max=MAX_AGE))
        return n
    if f.type == "date":
        try:  # one definition of a day and its range, core.dates (issue #8)
            day = dates.parse(v)
        except dates.DateProblem as e:
            raise ConditionError(_("{field}: expected {what}").format(field=shown, what=e)) from None
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
