"""Sending hours (SPEC §11): when emails and pushes may leave.

`[sending] hours = "HH:MM-HH:MM"` and `days = ["mon", …]` are read in the clinic's time
zone: a moment is allowed when its local weekday is listed and its local wall-clock
time is in [start, end). "24:00" ends the day; "00:00-24:00" with every day means
"always". `first_allowed(config, when)` is the first allowed moment at or after `when`
(naive UTC). Publish, unpublish, put and expire are not bound by these (core.delivery.kinds
asks only for emails and pushes).

Daylight saving: the window is wall-clock time. A start that falls in the spring-forward
gap (02:00–03:00 does not exist) begins at the first real moment after it; in the autumn
the repeated hour is simply allowed twice if it is inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.i18n import _
from core.textcheck import quoted_value

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_WORDS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
_DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Hours:
    start: int  # minutes after local midnight
    end: int  # exclusive; 1440 = the end of the day
    days: frozenset[int]  # 0 = Monday

    @property
    def always(self) -> bool:
        return self.start == 0 and self.end == _DAY_MINUTES and len(self.days) == 7


def _minutes(text: str) -> int | None:
    hh, sep, mm = text.strip().partition(":")
    if not sep or len(hh) != 2 or len(mm) != 2 or not (hh.isdigit() and mm.isdigit()):
        return None
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and m):
        return None
    return h * 60 + m


def parse(hours: object, days: object) -> tuple[Hours | None, list[str]]:
    """The parsed settings, or None and the problems, each naming its key (for config check)."""
    problems: list[str] = []
    start = end = None
    if not isinstance(hours, str) or hours.count("-") != 1:
        problems.append(
            _("sending.hours: expected “HH:MM-HH:MM” (e.g. “09:00-20:00”), got {value}").format(
                value=quoted_value(hours)
            )
        )
    else:
        a, b = hours.split("-")
        start, end = _minutes(a), _minutes(b)
        if start is None or end is None or start == _DAY_MINUTES:
            problems.append(
                _("sending.hours: expected “HH:MM-HH:MM” with 00:00 to 24:00 (e.g. “09:00-20:00”), got {value}").format(
                    value=quoted_value(hours)
                )
            )
        elif start >= end:
            problems.append(
                _("sending.hours: the range {value} is empty; the start must come before the end").format(
                    value=quoted_value(hours)
                )
            )
    day_set: set[int] = set()
    if not isinstance(days, list | tuple) or not days:
        problems.append(
            _("sending.days: expected a non-empty list of {days}, got {value}").format(
                days=", ".join(DAYS), value=quoted_value(days)
            )
        )
    else:
        bad = [d for d in days if not isinstance(d, str) or d.strip().lower() not in DAYS]
        if bad:
            problems.append(
                _("sending.days: unknown day {bad}; expected some of {days}").format(
                    bad=", ".join(map(repr, bad)), days=", ".join(DAYS)
                )
            )
        day_set = {DAYS.index(d.strip().lower()) for d in days if isinstance(d, str) and d.strip().lower() in DAYS}
    if problems or start is None or end is None:
        return None, problems
    return Hours(start, end, frozenset(day_set)), []


def hours_of(config) -> Hours:
    """The config's sending hours (validated when the config was loaded)."""
    h, problems = parse(config.sending.hours, list(config.sending.days))
    if h is None:  # a Config built by hand, bypassing validation
        raise ValueError("; ".join(problems))
    return h


def _local(naive_utc: datetime, tz: ZoneInfo) -> datetime:
    return naive_utc.replace(tzinfo=UTC).astimezone(tz)


def _utc(local: datetime) -> datetime:
    return local.astimezone(UTC).replace(tzinfo=None)


def _at(day, minutes: int, tz: ZoneInfo) -> datetime:
    """The naive-UTC moment of local wall-clock `minutes` on `day`. A time in the
    spring-forward gap (it does not exist that day) becomes the first real moment after
    the gap; in the autumn a repeated time is its first occurrence."""
    if minutes >= _DAY_MINUTES:
        return _utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
    for m in range(minutes, _DAY_MINUTES):
        local = datetime.combine(day, time(m // 60, m % 60), tzinfo=tz)
        utc = _utc(local)
        if _local(utc, tz).replace(tzinfo=None) == local.replace(tzinfo=None):
            return utc
    return _utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))  # pragma: no cover


def first_allowed_in(h: Hours, tz: ZoneInfo, when: datetime) -> datetime:
    """The first moment at or after `when` (naive UTC) inside `h`, in time zone `tz`."""
    if h.always:
        return when
    day = _local(when, tz).date()
    for i in range(8):
        d = day + timedelta(days=i)
        if d.weekday() not in h.days:
            continue
        opens, closes = _at(d, h.start, tz), _at(d, h.end, tz)
        if when < closes:
            return max(when, opens)
    raise AssertionError("no allowed moment within a week: days is never empty")  # pragma: no cover


def first_allowed(config, when: datetime) -> datetime:
    """The first allowed moment at or after `when` (naive UTC)."""
    return first_allowed_in(hours_of(config), config.clinic.tz, when)


def after_sending_for(config, start: datetime, span: timedelta) -> datetime:
    """The moment (naive UTC) when `span` of sending time has passed from `start`, the
    time outside sending hours not counted: work that takes 30 minutes begun at 19:50,
    with hours until 20:00, ends at 09:20 the next sending day."""
    h, tz = hours_of(config), config.clinic.tz
    at = first_allowed_in(h, tz, start)
    if h.always:
        return at + span
    for _day in range(400):  # each pass ends one day's hours: more than a year of them
        closes = _at(_local(at, tz).date(), h.end, tz)
        if at + span <= closes:
            return at + span
        span -= closes - at
        at = first_allowed_in(h, tz, closes)
    return at + span  # pragma: no cover - a span of more than a year of sending hours


def describe_start(config, when: datetime, now: datetime, language: str | None = None) -> str:
    """When sends that may leave from `when` (naive UTC) actually begin, in words in the
    clinic's time zone, or "" when that is now. In the language in use: the moment and
    why then — "Thursday Mar 5 at 09:00, when sending hours begin", "Tuesday Dec 8 at
    00:00, when the window opens" — words that go after "will go out" in a sentence
    (core.recipients.results.StartPlan). With `language="en"`, the spec's English of
    --json, as it always read ("outside sending hours: will go out from Monday 2026-03-09 09:00")."""
    at = first_allowed(config, when)
    if at <= now:
        return ""
    tz = config.clinic.tz
    local = _local(at, tz)
    if language is not None:  # --json: as it always read
        far = local.date() - _local(now, tz).date() >= timedelta(days=6)
        day = DAY_WORDS["en"][local.weekday()] + (f" {local:%Y-%m-%d}" if far else "")
        lead = "outside sending hours: will go out from" if at > when else "when the window opens: will go out from"
        return f"{lead} {day} {local:%H:%M}"
    from core import formats

    moment = _("{weekday} {day} at {time}").format(
        weekday=formats.weekday(at, tz), day=formats.short_day(at, tz, now=now), time=formats.time(at, tz)
    )
    if at > when:
        return _("{moment}, when sending hours begin").format(moment=moment)
    return _("{moment}, when the window opens").format(moment=moment)  # a window not open yet
