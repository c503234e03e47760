"""Calendar days typed by people or read from files: one definition, one range (issue #8).

Every day clinicast accepts — a broadcast's window (`--starts/--ends`, the TUI form), a
date of birth or last visit in a CSV, a date in a condition — is parsed here and must
fall within 1900-01-01..2200-12-31. `9999-12-31` used to be accepted as a window end,
committed, and then broke every `campaigns list` (the day after it is past `date.max`)
and the daemon's scheduler at every cycle.

* The range: nobody alive was born before 1900 and no campaign runs past 2200, and both
  ends are far from `date.min`/`date.max`, so any arithmetic on a day in range (a window's
  next day, a time zone shift, an age) cannot overflow.
"""

from __future__ import annotations

import re
from datetime import date

from core.i18n import _

MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(2200, 12, 31)

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
# export files also write 2024/05/01 and put a time after the date (never a zone: in
# another zone it is another day, and the rest of clinicast refuses it)
_LENIENT = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", re.ASCII)
_ZONED = re.compile(r"\d{4}[-/]\d{2}[-/]\d{2}[T ].*(?:Z|[+-]\d{2}:?\d{2})$", re.I)
_DMY = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}$")


class DateProblem(ValueError):
    """What was expected instead (str(): 'a date YYYY-MM-DD ...', in the language in use)."""


def range_words() -> str:
    """« a date from 1900-01-01 to 2200-12-31 », in the language in use (the days as they
    are typed)."""
    return _("a date from {first} to {last}").format(first=MIN_DAY.isoformat(), last=MAX_DAY.isoformat())


def in_range(day: object) -> bool:
    """Whether `day` is a date within MIN_DAY..MAX_DAY (False for anything else, such as
    a value a database returned as text because it is not a date at all)."""
    return isinstance(day, date) and MIN_DAY <= day <= MAX_DAY


def check(day: date) -> date:
    if not in_range(day):
        raise DateProblem(range_words())
    return day


def clamp(day: date) -> date:
    """`day` moved into the range: for arithmetic on a stored row that is out of it (it
    shows as invalid; nothing may crash on it meanwhile)."""
    return min(max(day, MIN_DAY), MAX_DAY) if isinstance(day, date) else MIN_DAY


def parse(text: str, *, lenient: bool = False) -> date | None:
    """The day written as YYYY-MM-DD (with `lenient`, also YYYY/MM/DD and a time after
    it); None for an empty text. DateProblem otherwise, saying what was expected.
    * DD/MM/YYYY is refused: 03/04/1980 is April 3rd in Québec and March 4th in an
    American export."""
    text = (text or "").strip()
    if not text:
        return None
    m = (_LENIENT if lenient else _ISO).match(text)
    if not m:
        if lenient and _ZONED.match(text):
            raise DateProblem(_("a date YYYY-MM-DD without a time zone (in another zone it is another day)"))
        if _DMY.match(text):
            # an export file can be exported again in ISO; a typed date is simply retyped
            raise DateProblem(
                _("a date YYYY-MM-DD (day/month order is ambiguous, export ISO dates)")
                if lenient
                else _("a date YYYY-MM-DD (day/month order is ambiguous)")
            )
        raise DateProblem(_("a date YYYY-MM-DD"))
    try:
        day = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise DateProblem(_("a real date YYYY-MM-DD")) from None
    return check(day)
