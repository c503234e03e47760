"""Dates, times and numbers as people read them (SPEC §12): Babel's CLDR data, in the
language in use (`core.i18n.current()`) and the clinic's time zone.

Never `strftime`, `isoformat()` or `f"{n:,}"` for what a person reads: these do.

    language  number   day            when (date + time)     short_day  short_when
    fr        1 234    2 déc. 2026    2 déc. 2026 14:02      2 déc.     2 déc. 14:02
    en        1,234    Dec 2, 2026    Dec 2, 2026, 14:02     Dec 2      Dec 2, 14:02

- Quebec's CLDR data (fr_CA, en_CA): the French group separator is the no-break space
  U+00A0 Babel gives for fr_CA (« 1 234 »).
- Times are 24-hour in both languages, `HH:mm` (`HH:mm:ss` with seconds). The OQLF's
  « 14 h 02 » is for running text; the colon form it also accepts fits a table cell and
  reads the same in English.
- A date and a time are joined as each language writes them: « 2 déc. 2026 14:02 »,
  "Dec 2, 2026, 14:02". Inside a sentence (`in_text`), French puts « à » between them, as
  the OQLF writes it: « créée le 2 déc. 2026 à 14:02 par mlaval »; English is unchanged.
- Short forms fit a table cell (at most 14 columns): a day of the clinic's current year
  without its year (« 2 déc. », "Dec 2"), another year's with it and without the time
  (« 2 déc. 2025 »). Never a bare month-day such as `12-05`. "This year" is the session's
  clock's (`follow_clock`, set by core.context), so a test's frozen clock holds here too.
- The database's timestamps are naive UTC: every function taking a `datetime` converts it
  to the clinic's zone `tz` first. A `date` is a calendar day and is shown as it is.
- A language Babel does not know (the tests' pseudo-locale) is shown as English.

Machine output (`--json`, CSV exports, the daemon's key=value fields, file names) keeps ISO
8601 and plain digits: it does not come here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core import i18n

if TYPE_CHECKING:
    from babel import Locale

# Babel is imported when something is first formatted, not with this module: opening a
# session (core.context) sets the clock here, and a command that prints no date pays nothing.

# the clinic's languages as Babel locales (Quebec's CLDR variants)
LOCALES = {"fr": "fr_CA", "en": "en_CA"}
FALLBACK = "en_CA"
# a date then a time, as each language writes them ({date} and {time} are Babel's)
JOIN = {"fr": "{date} {time}"}
JOIN_DEFAULT = "{date}, {time}"
# the same inside a sentence (« le 2 déc. à 14:02 »); a language not here joins as JOIN
JOIN_IN_TEXT = {"fr": "{date} à {time}"}
TIME = "HH:mm"
TIME_SECONDS = "HH:mm:ss"

__all__ = [
    "day",
    "follow_clock",
    "local",
    "locale",
    "number",
    "short_day",
    "short_when",
    "time",
    "weekday",
    "when",
]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_clock: Callable[[], dt.datetime] = _utcnow


def follow_clock(clock: Callable[[], dt.datetime]) -> None:
    """Which year is "this year" for the short forms: the session's clock (naive UTC).
    One process serves one person, so the clock is the process's, as the language is;
    `core.context` sets it when a session opens (a test's frozen clock too)."""
    global _clock
    _clock = clock


@cache
def _locale(language: str) -> Locale:
    from babel import Locale

    return Locale.parse(LOCALES.get(language, FALLBACK))


def locale(language: str | None = None) -> Locale:
    """The Babel locale of `language` (default: the one in use)."""
    return _locale(language or i18n.current())


def local(moment: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    """A naive-UTC database timestamp in the clinic's time zone (an aware one is converted)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz)


def number(n: int | float | None) -> str:
    """1234 -> « 1 234 » (fr, U+00A0), "1,234" (en)."""
    if n is None:
        return ""
    return _number(n, isinstance(n, float), i18n.current())


@lru_cache(maxsize=4096)
def _number(n: int | float, _is_float: bool, language: str) -> str:
    # each distinct count formatted once: Babel takes ~0.1 ms a number, and a list of 200
    # campaigns shows 500 of them (issue #21)
    from babel.numbers import format_decimal

    return format_decimal(n, locale=_locale(language))


def _calendar_day(d: dt.date | dt.datetime, tz: ZoneInfo | None) -> dt.date:
    if isinstance(d, dt.datetime):
        return local(d, tz).date() if tz is not None else d.date()  # type: ignore[union-attr]
    return d


def _first(cal: dt.date, text: str) -> str:
    """French writes the first of a month « 1er » (« 1er déc. 2026 »); Babel writes « 1 »."""
    if cal.day == 1 and i18n.current() == "fr" and text.startswith("1 "):
        return "1er" + text[1:]
    return text


def day(d: dt.date | dt.datetime | None, tz: ZoneInfo | None = None) -> str:
    """« 2 déc. 2026 », "Dec 2, 2026". A datetime is a naive-UTC moment, seen in `tz`."""
    if d is None:
        return ""
    from babel.dates import format_date

    cal = _calendar_day(d, tz)
    return _first(cal, format_date(cal, "medium", locale=locale()))


def time(moment: dt.datetime | None, tz: ZoneInfo, *, seconds: bool = False) -> str:
    """« 14:02 » in the clinic's zone, 24-hour in every language."""
    m = local(moment, tz)
    if m is None:
        return ""
    from babel.dates import format_time

    return format_time(m, TIME_SECONDS if seconds else TIME, tzinfo=tz, locale=locale())


def weekday(moment: dt.date | dt.datetime | None, tz: ZoneInfo | None = None) -> str:
    """« jeudi », "Thursday": the day of the week (a datetime: naive UTC, seen in `tz`)."""
    if moment is None:
        return ""
    from babel.dates import format_date

    return format_date(_calendar_day(moment, tz), "EEEE", locale=locale())


def _join(date_text: str, time_text: str, *, in_text: bool = False) -> str:
    language = i18n.current()
    joined = (JOIN_IN_TEXT.get(language) if in_text else None) or JOIN.get(language, JOIN_DEFAULT)
    return joined.format(date=date_text, time=time_text)


def when(moment: dt.datetime | None, tz: ZoneInfo, *, seconds: bool = False, in_text: bool = False) -> str:
    """« 2 déc. 2026 14:02 », "Dec 2, 2026, 14:02": a naive-UTC moment in the clinic's zone.
    `in_text`: inside a sentence, « 2 déc. 2026 à 14:02 » (English unchanged)."""
    m = local(moment, tz)
    if m is None:
        return ""
    return _join(day(m.date()), time(m, tz, seconds=seconds), in_text=in_text)


def _this_year(tz: ZoneInfo | None, now: dt.datetime | None) -> int:
    if now is None:
        now = _clock()
    return (local(now, tz) if tz is not None else now).year  # type: ignore[union-attr]


def short_day(d: dt.date | dt.datetime | None, tz: ZoneInfo | None = None, *, now: dt.datetime | None = None) -> str:
    """A table cell's day: « 2 déc. », "Dec 2" in the clinic's current year, else with
    the year. `now` (naive UTC, default the session's clock) says which year is current."""
    if d is None:
        return ""
    cal = _calendar_day(d, tz)
    if cal.year != _this_year(tz, now):
        return day(cal)
    from babel.dates import format_date

    return _first(cal, format_date(cal, locale().datetime_skeletons["MMMd"], locale=locale()))


def short_when(
    moment: dt.datetime | None, tz: ZoneInfo, *, now: dt.datetime | None = None, in_text: bool = False
) -> str:
    """A table cell's moment: « 2 déc. 14:02 », "Dec 2, 14:02" in the clinic's current
    year; another year's is its day alone (« 2 déc. 2025 »), to fit the same cell.
    `in_text`: inside a sentence, « 2 déc. à 14:02 » (English unchanged)."""
    m = local(moment, tz)
    if m is None:
        return ""
    if m.year != _this_year(tz, now):
        return day(m.date())
    return _join(short_day(m.date(), tz, now=now), time(m, tz), in_text=in_text)
