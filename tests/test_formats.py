"""core.formats: dates, times and numbers in the language in use and the clinic's zone
(SPEC §12: « 2 déc. 2026 », « 1 234 », 24-hour times; "Dec 2, 2026", "1,234")."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from core import formats, i18n
from tui import format as fmt

MONTREAL = ZoneInfo("America/Toronto")
# naive UTC, as the database keeps it: 14:02 in Montréal (EST, UTC-5)
MOMENT = datetime(2026, 12, 2, 19, 2, 5)
NOW = datetime(2026, 12, 6, 12, 0)
NBSP = "\u00a0"


@pytest.fixture
def speak():
    before = i18n.current()

    def use(language: str) -> None:
        i18n.use(language)

    yield use
    i18n.use(before)


@pytest.mark.parametrize(
    ("language", "n", "said"),
    [
        ("fr", 1234, f"1{NBSP}234"),
        ("fr", 1234567, f"1{NBSP}234{NBSP}567"),
        ("fr", 12, "12"),
        ("en", 1234, "1,234"),
        ("en", 1234567, "1,234,567"),
        ("en", 0, "0"),
    ],
)
def test_numbers(speak, language, n, said):
    speak(language)
    assert formats.number(n) == said
    assert fmt.num(n) == said


@pytest.mark.parametrize(
    ("language", "day", "when", "seconds", "time"),
    [
        ("fr", "2 déc. 2026", "2 déc. 2026 14:02", "2 déc. 2026 14:02:05", "14:02"),
        ("en", "Dec 2, 2026", "Dec 2, 2026, 14:02", "Dec 2, 2026, 14:02:05", "14:02"),
    ],
)
def test_dates_and_times(speak, language, day, when, seconds, time):
    speak(language)
    assert formats.day(date(2026, 12, 2)) == day
    assert formats.day(MOMENT, MONTREAL) == day
    assert formats.when(MOMENT, MONTREAL) == when
    assert formats.when(MOMENT, MONTREAL, seconds=True) == seconds
    assert formats.time(MOMENT, MONTREAL) == time
    assert (fmt.day(date(2026, 12, 2)), fmt.when(MOMENT, MONTREAL), fmt.time(MOMENT, MONTREAL)) == (day, when, time)


def test_the_clinic_zone_moves_the_day(speak):
    """02:30 UTC on Dec 3 is still Dec 2 in Montréal (21:30): the clinic's day, not UTC's."""
    speak("en")
    late = datetime(2026, 12, 3, 2, 30)
    assert formats.day(late, MONTREAL) == "Dec 2, 2026"
    assert formats.when(late, MONTREAL) == "Dec 2, 2026, 21:30"
    assert formats.when(late, ZoneInfo("UTC")) == "Dec 3, 2026, 02:30"
    assert formats.local(late, MONTREAL).hour == 21  # type: ignore[union-attr]


def test_afternoon_is_24_hour_in_both(speak):
    for language in ("fr", "en"):
        speak(language)
        said = formats.when(datetime(2026, 7, 1, 21, 45), MONTREAL)  # 17:45 EDT
        assert "17:45" in said and "PM" not in said.upper() and " h " not in said


@pytest.mark.parametrize(
    ("language", "this_year", "other_year", "moment_this_year", "moment_other_year"),
    [
        ("fr", "2 déc.", "2 déc. 2025", "2 déc. 14:02", "2 déc. 2025"),
        ("en", "Dec 2", "Dec 2, 2025", "Dec 2, 14:02", "Dec 2, 2025"),
    ],
)
def test_short_forms_for_table_cells(speak, language, this_year, other_year, moment_this_year, moment_other_year):
    speak(language)
    last_year = MOMENT.replace(year=2025)
    assert formats.short_day(MOMENT, MONTREAL, now=NOW) == this_year
    assert formats.short_day(last_year, MONTREAL, now=NOW) == other_year
    assert formats.short_when(MOMENT, MONTREAL, now=NOW) == moment_this_year
    assert formats.short_when(last_year, MONTREAL, now=NOW) == moment_other_year
    for said in (this_year, other_year, moment_this_year, moment_other_year):
        assert len(said) <= 14
        assert "12-02" not in said  # never a bare month-day


def test_short_forms_follow_the_session_clock(speak):
    """'This year' is the session's (a frozen test clock too), not the wall clock's."""
    speak("en")
    try:
        formats.follow_clock(lambda: datetime(2025, 6, 2, 16, 0))
        assert formats.short_day(date(2025, 5, 30)) == "May 30"
        assert fmt.short_when(datetime(2025, 5, 30, 14, 0), MONTREAL) == "May 30, 10:00"
        formats.follow_clock(lambda: datetime(2031, 1, 1, 12, 0))
        assert formats.short_day(date(2025, 5, 30)) == "May 30, 2025"
    finally:
        formats.follow_clock(formats._utcnow)


def test_nothing_is_empty(speak):
    speak("fr")
    assert formats.day(None) == formats.when(None, MONTREAL) == formats.number(None) == ""
    assert formats.short_when(None, MONTREAL) == formats.short_day(None) == formats.time(None, MONTREAL) == ""


def test_a_language_babel_does_not_know_reads_as_english(speak, monkeypatch):
    """The tests' pseudo-locale (or any code i18n accepts) falls back to English forms."""
    monkeypatch.setattr(i18n, "_language", "pseudo")
    assert formats.number(1234) == "1,234"
    assert formats.day(date(2026, 12, 2)) == "Dec 2, 2026"


def test_fr_month_names_follow_cldr(speak):
    speak("fr")
    months = [formats.day(date(2026, m, 15)) for m in range(1, 13)]
    assert months[0] == "15 janv. 2026" and months[4] == "15 mai 2026" and months[7] == "15 août 2026"


def test_the_first_of_a_month_is_1er_in_french(speak):
    """« le dernier jour (1 déc. 2026) » read wrong to a Quebec reader: French writes « 1er »."""
    speak("fr")
    assert formats.day(date(2026, 12, 1)) == "1er déc. 2026"
    assert formats.when(datetime(2026, 12, 1, 19, 0), MONTREAL) == "1er déc. 2026 14:00"
    assert formats.short_day(date(2026, 12, 1), now=datetime(2026, 6, 1)) == "1er déc."
    assert formats.day(date(2026, 12, 11)) == "11 déc. 2026" and formats.day(date(2026, 12, 21)) == "21 déc. 2026"
    speak("en")
    assert formats.day(date(2026, 12, 1)) == "Dec 1, 2026"


def test_every_status_a_cell_shows_has_its_style():
    """The TUI's cell styles are keyed on core's statuses: each campaign, window and
    recipient status a table shows (and the two shown-only words) has one."""
    from core.enums import IN_FEED_NO_PUSH, WILL_RECEIVE_NOTHING, CampaignStatus, RecipientStatus, WindowState

    shown = [*CampaignStatus, *RecipientStatus, *(w for w in WindowState if w != WindowState.INVALID)]
    assert [s for s in [*shown, IN_FEED_NO_PUSH, WILL_RECEIVE_NOTHING] if s not in fmt.CELL_STYLE] == []


@pytest.mark.parametrize(
    ("language", "in_text", "short_in_text"),
    [
        ("fr", "2 déc. 2026 à 14:02", "2 déc. à 14:02"),
        ("en", "Dec 2, 2026, 14:02", "Dec 2, 14:02"),
    ],
)
def test_a_moment_inside_a_sentence(speak, language, in_text, short_in_text):
    """« créée le 2 déc. à 14:02 par mlaval »: French joins the day and the time with « à »
    inside a sentence (a table cell keeps « 2 déc. 14:02 »); English reads as everywhere."""
    speak(language)
    assert formats.when(MOMENT, MONTREAL, in_text=True) == in_text
    assert formats.short_when(MOMENT, MONTREAL, now=NOW, in_text=True) == short_in_text
    # another year's short moment is its day alone: no « à » left hanging
    assert formats.short_when(MOMENT.replace(year=2025), MONTREAL, now=NOW, in_text=True) == formats.day(
        MOMENT.replace(year=2025), MONTREAL
    )


def test_a_campaign_history_reads_as_a_sentence_in_french(speak):
    from core.campaigns.trail import CampaignHistory, Moment

    speak("fr")
    acts = CampaignHistory(created=Moment("mlaval", MOMENT), started=Moment("", MOMENT.replace(day=3)))
    assert acts.lines(MONTREAL) == [
        "créée le 2 déc. 2026 à 14:02 par mlaval",
        "démarrée le 3 déc. 2026 à 14:02",
    ]
