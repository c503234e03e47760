"""Presentation only: how dates, counts and statuses look on screen (no rules here)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from rich.text import Text

from core import formats
from core.enums import IN_FEED_NO_PUSH, WILL_RECEIVE_NOTHING, CampaignStatus, RecipientStatus, WindowState

# Rich styles (DataTable cells): theme variables are not available there.
CELL_STYLE: dict[str, str] = {
    CampaignStatus.DRAFT: "dim",
    CampaignStatus.PUBLISHED: "green",
    CampaignStatus.STOPPED: "bold yellow",
    CampaignStatus.SENDING: "bold yellow",
    CampaignStatus.SENT: "green",  # a recipient's `sent` too
    CampaignStatus.SENT_WITH_ERRORS: "bold red",
    WindowState.UPCOMING: "cyan",
    WindowState.LIVE: "bold green",
    WindowState.ENDED: "dim",
    RecipientStatus.ASSIGNED: "",
    RecipientStatus.QUEUED: "yellow",
    RecipientStatus.RETRYING: "bold yellow",
    RecipientStatus.FAILED: "bold red",
    RecipientStatus.SKIPPED: "dim",
    IN_FEED_NO_PUSH: "cyan",
    WILL_RECEIVE_NOTHING: "yellow",
    RecipientStatus.REMOVED: "dim strike",
}


def local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A naive-UTC database timestamp in the clinic's time zone."""
    return formats.local(dt, tz)


# Dates, times and numbers follow the language in use (core.formats, Babel): every screen
# reads them from here, so none formats one itself.


def when(dt: datetime | None, tz: ZoneInfo, *, seconds: bool = False) -> str:
    """« 2 déc. 2026 14:02 », "Dec 2, 2026, 14:02" (the clinic's zone)."""
    return formats.when(dt, tz, seconds=seconds)


def unbroken(text: str) -> str:
    """A date, a time or a moment as one word on screen: its spaces no-break (U+00A0), so
    a wrapped line breaks around it, never inside (« 7 déc. » / « 2026 ») nor between the
    date and its time (tui.typography). For text Textual wraps; a table cell needs none."""
    return text.replace(" ", "\u00a0")


def day(d: date | datetime | None, tz: ZoneInfo | None = None) -> str:
    """« 2 déc. 2026 », "Dec 2, 2026"."""
    return formats.day(d, tz)


def time(dt: datetime | None, tz: ZoneInfo, *, seconds: bool = False) -> str:
    """« 14:02 » (24-hour, the clinic's zone)."""
    return formats.time(dt, tz, seconds=seconds)


def short_day(d: date | datetime | None, tz: ZoneInfo | None = None) -> str:
    """A table cell's day: « 2 déc. », "Dec 2" this year, with the year otherwise."""
    return formats.short_day(d, tz)


def short_when(dt: datetime | None, tz: ZoneInfo) -> str:
    """A table cell's moment: « 2 déc. 14:02 », "Dec 2, 14:02" (never a bare 12-05)."""
    return formats.short_when(dt, tz)


def num(n: int) -> str:
    """1234 -> « 1 234 » (fr), "1,234" (en)."""
    return formats.number(n)


def cell(value: str, status: str | None = None) -> Text:
    return Text(value, style=CELL_STYLE.get(status or value, ""), no_wrap=True, overflow="ellipsis")


def flowed(parts: list[tuple[str, Text]], width: int) -> Text:
    """Each (separator, part) after the other on lines of `width` cells, a line broken only
    between two parts, where the separator is left out: a part is never cut nor split
    (« écarté 243 » keeps its number; at 80 columns in French it read « écarté 2… »)."""
    out = Text()
    x = 0
    for sep, part in parts:
        if x and x + len(sep) + part.cell_len > width:
            out.append("\n")
            x = 0
        elif x:
            out.append(sep)
            x += len(sep)
        out.append_text(part)
        x += part.cell_len
    return out
