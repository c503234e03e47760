"""Finding patients: by EMR id, and search as you type (name, EMR id, date of birth,
email) from the indexes first."""

from __future__ import annotations

import re
from datetime import date

from core import emr
from core.enums import Permission
from core.errors import NotFound
from core.i18n import _
from core.models import Patient
from core.search import key as name_key
from core.search import like as _like
from core.search import like_escape as _like_escape
from core.search import sql_words
from core.textcheck import quoted_value


def get_by_emr(emr_id: str) -> Patient:
    p = Patient.get_or_none(Patient.emr_key == emr.key(emr_id))
    if p is None:
        raise NotFound(_("no patient with EMR id {id}").format(id=quoted_value(emr_id.strip())))
    return p


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASHED = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def _dates_in(text: str) -> list[date]:
    """Dates a typed birth date may mean: YYYY-MM-DD, or DD/MM/YYYY *and* MM/DD/YYYY
    (search only reads, so an ambiguous date shows both candidates)."""
    found = []
    m = _ISO.match(text)
    if m:
        found.append((int(m[1]), int(m[2]), int(m[3])))
    m = _SLASHED.match(text)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        found += [(y, b, a), (y, a, b)]
    out = []
    for y, mo, d in found:
        try:
            out.append(date(y, mo, d))
        except ValueError:
            pass
    return sorted(set(out))


def _prefix(column, prefix: str):
    """Rows whose `column` starts with `prefix`, answered from the column's index: a
    range on the index, and LIKE to be exact whatever the collation."""
    upper = prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))
    return (column >= prefix) & (column < upper) & _like(column, _like_escape(prefix) + "%")


def search(ctx, text: str, limit: int = 20) -> list[Patient]:
    """Patients matching what was typed, best first (SPEC §4 "found by name, EMR id,
    date of birth or email as you type"):
    - a date (YYYY-MM-DD; DD/MM/YYYY and MM/DD/YYYY both tried) finds birth dates;
    - else, from the indexes: the exact EMR id, EMR ids starting with the text, names
      starting with it in "last first" order, emails starting with it;
    - if that gives fewer than `limit`: names holding every typed word anywhere, in any
      order ("marie trem", "tremblay marie", "emilie cote" for Émilie Côté).
    """
    ctx.require(Permission.CAMPAIGNS)
    text = " ".join(text.split())
    if not text or limit <= 0:
        return []
    order = (Patient.last_name, Patient.first_name, Patient.id)
    dates = _dates_in(text)
    if dates:
        return list(Patient.select().where(Patient.date_of_birth.in_(dates)).order_by(*order).limit(limit))

    found: dict[int, Patient] = {}

    def take(query) -> bool:
        for p in query.limit(limit):
            if len(found) >= limit:
                break
            found.setdefault(p.id, p)
        return len(found) >= limit

    key = name_key(text)
    words = key.split()
    steps = [Patient.select().where(Patient.emr_id == text)]
    if " " not in text:
        steps.append(Patient.select().where(_prefix(Patient.emr_id, text)).order_by(Patient.emr_id))
    if key:
        steps.append(
            Patient.select().where(_prefix(Patient.search_name, key)).order_by(Patient.search_name, Patient.id)
        )
    if " " not in text and ("@" in text or "." in text):
        steps.append(Patient.select().where(_prefix(Patient.email, text.lower())).order_by(Patient.email))
    for q in steps:
        if take(q):
            return list(found.values())
    if words and "@" not in text and any(ch.isalpha() for ch in key):
        cond = sql_words(Patient.search_name, text)  # core.search: the one rule
        if found:
            cond &= Patient.id.not_in(list(found))
        take(Patient.select().where(cond).order_by(*order))
    return list(found.values())
