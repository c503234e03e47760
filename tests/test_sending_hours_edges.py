"""Sending hours at their edges (SPEC §11; issue #22's mutation run): the HH:MM a config
may say, what `config check` tells staff about a wrong one, the words a start shows for
when sending begins, and the server's own time zone never moving the window."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core import config as cfg
from core import sending_hours

TZ = ZoneInfo("America/Toronto")
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS = "mon, tue, wed, thu, fri, sat, sun"


def utc(y, mo, d, h, mi=0) -> datetime:
    """Naive UTC of a wall-clock time in Toronto."""
    return datetime(y, mo, d, h, mi, tzinfo=TZ).astimezone(UTC).replace(tzinfo=None)


def config(hours: str = "09:00-20:00", days: list[str] | None = None):
    days = days or ["mon", "tue", "wed", "thu", "fri", "sat"]
    return cfg.from_dict(
        {
            "clinic": {"name": "c", "timezone": "America/Toronto"},
            "database": {"url": "sqlite:///x.db"},
            "gateway": {"transport": "log", "path": "g.log"},
            "email": {"transport": "maildir", "path": "mail"},
            "sending": {"hours": hours, "days": days},
        },
        env={},
    )


@pytest.fixture(params=["UTC", "Asia/Tokyo", "Pacific/Honolulu"])
def machine_tz(request, monkeypatch):
    """The server's own zone ($TZ): the window is the clinic's, whatever the machine says."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


class TestHHMM:
    @pytest.mark.parametrize(
        "hours",
        [
            "9:00-20:00",  # one-digit hour
            "09:0x-20:00",  # not a number: refused, never a crash
            "0x:00-20:00",
            "09:00-24:30",  # nothing after 24:00
            "09:00-20:60",
        ],
    )
    def test_refused(self, hours):
        h, problems = sending_hours.parse(hours, EVERY_DAY)
        assert h is None
        assert problems == [
            f"sending.hours: expected “HH:MM-HH:MM” with 00:00 to 24:00 (e.g. “09:00-20:00”), got “{hours}”"
        ]

    def test_a_minute_to_the_hour_is_a_minute(self):
        h, problems = sending_hours.parse("08:59-19:59", EVERY_DAY)
        assert problems == [] and h is not None
        assert (h.start, h.end) == (8 * 60 + 59, 19 * 60 + 59)
        # 19:58 is inside, 19:59 is the (excluded) end
        assert sending_hours.first_allowed_in(h, TZ, utc(2026, 3, 4, 19, 58)) == utc(2026, 3, 4, 19, 58)
        assert sending_hours.first_allowed_in(h, TZ, utc(2026, 3, 4, 19, 59)) == utc(2026, 3, 5, 8, 59)


class TestProblemsShowTheValue:
    """`clinicast config check` prints these: each shows what the file says, and the choices."""

    def test_hours_not_a_range(self):
        assert sending_hours.parse(9, EVERY_DAY)[1] == [
            "sending.hours: expected “HH:MM-HH:MM” (e.g. “09:00-20:00”), got 9"
        ]

    def test_no_days(self):
        assert sending_hours.parse("09:00-20:00", [])[1] == [
            f"sending.days: expected a non-empty list of {DAYS}, got []"
        ]
        assert sending_hours.parse("09:00-20:00", "mon")[1] == [
            f"sending.days: expected a non-empty list of {DAYS}, got “mon”"
        ]

    def test_every_unknown_day_is_named(self):
        assert sending_hours.parse("09:00-20:00", ["mon", "lundi", "Tues"])[1] == [
            f"sending.days: unknown day 'lundi', 'Tues'; expected some of {DAYS}"
        ]

    def test_a_config_built_by_hand_says_every_problem(self):
        c = config()
        bad = dataclasses.replace(c, sending=dataclasses.replace(c.sending, hours="20-09", days=("sometimes",)))
        with pytest.raises(ValueError) as e:
            sending_hours.hours_of(bad)
        assert str(e.value) == "; ".join(sending_hours.parse("20-09", ["sometimes"])[1])
        assert "sending.hours" in str(e.value) and "sending.days" in str(e.value)  # both problems


class TestTheMachinesZoneDoesNotMatter:
    def test_first_allowed(self, machine_tz):
        c = config()
        assert sending_hours.first_allowed(c, utc(2026, 3, 4, 21, 0)) == utc(2026, 3, 5, 9, 0)
        assert sending_hours.first_allowed(c, utc(2026, 3, 4, 10, 0)) == utc(2026, 3, 4, 10, 0)
        # across the spring change: Sunday 09:00 EDT is 13:00 UTC
        c = config(days=EVERY_DAY)
        assert sending_hours.first_allowed(c, utc(2026, 3, 7, 23, 30)) == datetime(2026, 3, 8, 13, 0)

    def test_six_days_ahead_names_the_date(self, machine_tz):
        # Thursday 2026-01-08 noon in Toronto; only Wednesdays 19:30-23:00: the next is
        # 2026-01-14 19:30 EST (00:30 UTC on the 15th), six days ahead: the date is said
        c = config("19:30-23:00", ["wed"])
        now = utc(2026, 1, 8, 12, 0)
        assert sending_hours.describe_start(c, now, now, "en") == (
            "outside sending hours: will go out from Wednesday 2026-01-14 19:30"
        )
        # people read the moment and why then, words that go after "will go out"
        assert sending_hours.describe_start(c, now, now) == "Wednesday Jan 14 at 19:30, when sending hours begin"


class TestDescribeStart:
    def test_tonight_says_the_clinics_weekday(self):
        # Wednesday 2026-03-04 18:00; the window opens at 19:30 Toronto, 00:30 UTC on Thursday
        c = config("19:30-23:00")
        now = utc(2026, 3, 4, 18, 0)
        assert sending_hours.describe_start(c, now, now, "en") == (
            "outside sending hours: will go out from Wednesday 19:30"
        )
        # people always read the day too (issue: « mardi 8 déc. à 00:00 »)
        assert sending_hours.describe_start(c, now, now) == "Wednesday Mar 4 at 19:30, when sending hours begin"

    def test_five_days_ahead_says_no_date(self):
        c = config("19:30-23:00", ["tue"])
        now = utc(2026, 1, 8, 12, 0)  # Thursday; next Tuesday is the 13th
        assert sending_hours.describe_start(c, now, now, "en") == (
            "outside sending hours: will go out from Tuesday 19:30"
        )

    def test_a_start_inside_the_hours_waits_for_its_window_not_the_hours(self):
        # asked on Wednesday evening for sends from Thursday 10:00, inside the hours:
        # it is the window (the campaign's first day) that is awaited
        c = config()
        now, when = utc(2026, 3, 4, 21, 0), utc(2026, 3, 5, 10, 0)
        assert sending_hours.describe_start(c, when, now, "en") == (
            "when the window opens: will go out from Thursday 10:00"
        )
        assert sending_hours.describe_start(c, when, now) == "Thursday Mar 5 at 10:00, when the window opens"

    def test_a_start_outside_the_hours_says_so(self):
        c = config()
        now = utc(2026, 3, 4, 21, 0)
        assert sending_hours.describe_start(c, now, now, "en") == (
            "outside sending hours: will go out from Thursday 09:00"
        )

    def test_now_is_said_as_nothing(self):
        c = config()
        now = utc(2026, 3, 4, 10, 0)
        assert sending_hours.describe_start(c, now, now) == ""
        assert sending_hours.describe_start(c, now, now, "en") == ""
