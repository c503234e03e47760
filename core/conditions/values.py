"""The values patients have: a condition that compares a whole text value with one no
patient has (`practitioner = "Dr Gagnin"`, a typo of "Dr Jean-François Gagnon") is
said, with the closest values that exist — `=` would select nobody, and `!=` nearly
everyone. The TUI's builder and `recipients add --where` say it in the same words, and
an assign by such a condition is refused unless the staff member confirms it
(core.recipients.assign_conditions).

    unknown_values(ctx, conds)   the conditions naming a value no patient has, each with suggestions
    existing(ctx, field)         a listed field's values, for the builder (a list, completion)
    closest(value, values)       the closest of `values` to `value` (difflib)

Matching and closeness (decisions): whether a patient has the value is asked of the
database with the condition's own `=` (`compile`): case-insensitive on both databases
(SQLite compares through clinicast's Unicode lower(), core.db), accents kept (« Cote »
is not « Côté »; a postal code's spaces aside) — the warning says exactly what the
condition would select.
Closeness ignores case and accents (both sides folded as `core.folding.fold`), so that
« dr jean-francois gagnon » suggests « Dr Jean-François Gagnon », shown as patients have
it: choosing it matches them.

The values read are bounded (one query, at most MAX_VALUES distinct values): all of a
listed field's (a clinic's practitioners: a few dozen shared by every patient), else
those starting as the value does (its first NARROW characters: a postal code's area,
an email's first letters) — never a DISTINCT over a million emails. Measured on
1,000,000 patients: a value patients have costs one EXISTS that stops at the first
(0.2 ms SQLite; 0.6 ms PostgreSQL, through its lower(practitioner) index); a
practitioner nobody has 0.7 s on SQLite (the EXISTS and the DISTINCT each read the
table; the live count itself takes 0.46 s), 0.23 s on PostgreSQL.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from datetime import date

import peewee as pw

from core.conditions.catalogue import COLUMNS, FIELDS, WHOLE, Condition
from core.conditions.sql import compile
from core.enums import Permission
from core.errors import Refused
from core.folding import fold
from core.i18n import _
from core.models import Patient
from core.textcheck import quoted_value

MAX_VALUES = 1000  # the most distinct values one read returns
NARROW = 3  # a field not listed: suggestions among the values starting with these many characters
SUGGESTED = 3  # the most suggestions said
CUTOFF = 0.6  # difflib's default: below it, two values are not alike
MARGIN = 0.15  # suggestions are at most this much less alike than the best one
MAX_WORDS = 8  # a value of more words is compared whole only (its combinations add up)


@dataclass(frozen=True)
class UnknownValue:
    """A condition comparing a whole value that no patient has, and the closest values
    patients do have (best first; none when nothing is alike)."""

    condition: Condition
    suggestions: tuple[str, ...] = ()

    def words(self) -> str:
        """One line in the staff's language: « Médecin « Dr Gagnin » : aucun patient n'a
        cette valeur ; vouliez-vous dire « Dr Jean-François Gagnon » ? »."""
        c = self.condition
        # typed and stored values quoted as every message quotes them (escaped, one line)
        field, value = FIELDS[c.field].label_words, quoted_value(str(c.value))
        if not self.suggestions:
            return _("{field} {value}: no patient has this value").format(field=field, value=value)
        quoted = [quoted_value(s) for s in self.suggestions]
        alternatives = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + _(" or ") + quoted[-1]
        return _("{field} {value}: no patient has this value; did you mean {suggestions}?").format(
            field=field, value=value, suggestions=alternatives
        )


class UnknownValues(Refused):
    """An assign by conditions naming a value no patient has, not confirmed: refused,
    nothing written (exit 1). `unknown` says which, with their suggestions."""

    kind = "unknown_value"

    def __init__(self, unknown: list[UnknownValue]) -> None:
        self.unknown = unknown
        lines = [u.words() for u in unknown]
        super().__init__("\n".join([*lines, _("Nothing was added: correct the value, or confirm it.")]))


def compares_whole_text(c: Condition) -> bool:
    """A text field compared with a whole value (`=`, `!=`): the conditions checked."""
    return FIELDS[c.field].type == "str" and c.op in WHOLE and isinstance(c.value, str)


def unknown_values(ctx, conds: list[Condition]) -> list[UnknownValue]:
    """The conditions of `conds` comparing a text field with a whole value (`=`, `!=`)
    that no patient has, in their order, each with the closest values that exist.
    A read of the directory: the "campaigns" permission, like the count."""
    ctx.require(Permission.CAMPAIGNS)
    out: list[UnknownValue] = []
    seen: set[tuple[str, str]] = set()
    for c in conds:
        if not compares_whole_text(c) or (c.field, c.value) in seen:
            continue
        seen.add((c.field, c.value))
        if _anyone_has(c, ctx.today()):
            continue
        out.append(UnknownValue(c, tuple(closest(c.value, _values(c.field, c.value, ctx.today())))))
    return out


def existing(ctx, field: str) -> list[str]:
    """The values patients have in a listed field (`Field.listed`: the practitioners), in
    alphabetical order ignoring case and accents; at most MAX_VALUES. The builder offers
    them (a list, completion as one types)."""
    ctx.require(Permission.CAMPAIGNS)
    if not FIELDS[field].listed:
        return []
    return sorted(_values(field, "", ctx.today()), key=lambda v: (fold(v), v))


def closest(value: str, values: list[str], n: int = SUGGESTED) -> list[str]:
    """The values most like `value`, best first; one per folded spelling (the first in
    code-point order: « DR DAVID CHEN » before « Dr David Chen »). Likeness is difflib's
    ratio over both folded (case and accents aside), of the whole value or of as many of
    its words, in order, as `value` has: « Dr Gagnin » is most like « Dr … Gagnon »,
    whatever the first names between. Only values nearly as alike as the best are kept
    (within MARGIN): « Dre Cote » suggests « Dre Émilie Côté », not every « Dre »."""
    by_key: dict[str, str] = {}
    for v in sorted(values):  # the same spelling whichever order the database read them in
        by_key.setdefault(fold(v), v)
    key = fold(value)
    scored = sorted(((_likeness(key, k), k) for k in by_key), key=lambda s: (-s[0][0], -s[0][1], s[1]))
    if not scored or scored[0][0][0] < CUTOFF:
        return []
    floor = max(CUTOFF, scored[0][0][0] - MARGIN)
    return [by_key[k] for (best, _whole), k in scored[:n] if best >= floor]


def _likeness(value: str, candidate: str) -> tuple[float, float]:
    """(best ratio over the candidate or its words taken as many as the value's, the
    whole candidate's ratio): both folded already."""
    matcher = difflib.SequenceMatcher(None, b=value)  # b is what difflib caches: the value
    matcher.set_seq1(candidate)
    whole = best = matcher.ratio()
    words, n = candidate.split(), len(value.split())
    if 0 < n < len(words) <= MAX_WORDS:
        for picked in itertools.combinations(words, n):
            matcher.set_seq1(" ".join(picked))
            if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
                best = max(best, matcher.ratio())
    return best, whole


def _anyone_has(c: Condition, today: date) -> bool:
    """Does a patient have `c`'s value, compared as `=` compares it (compile)?"""
    same = Condition(c.field, "=", c.value)
    return Patient.select(pw.SQL("1")).where(compile([same], today)).exists()


def _values(field: str, value: str, today: date) -> list[str]:
    """One bounded read: the distinct non-empty values of `field` — all of them for a
    listed field, else those starting as `value` does (its first NARROW characters)."""
    col = COLUMNS[field]
    query = Patient.select(col).distinct().where(col != "").limit(MAX_VALUES)
    if not FIELDS[field].listed:
        start = "".join(value.split())[:NARROW] if field == "postal_code" else value.strip()[:NARROW]
        if not start:
            return []
        query = query.where(compile([Condition(field, "starts with", start)], today))
    return [v for (v,) in query.tuples() if v]
