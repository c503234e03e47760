"""Presentation only: how dates, counts and statuses look on screen (no rules here)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from rich.text import Text

# Rich styles (DataTable cells): theme variables are not available there.
CELL_STYLE = {
    "draft": "dim",
    "published": "green",
    "stopped": "bold yellow",
    "sending": "bold yellow",
    "sent": "green",
    "sent with errors": "bold red",
    "upcoming": "cyan",
    "live": "bold green",
    "ended": "dim",
    "assigned": "",
    "queued": "yellow",
    "retrying": "bold yellow",
    "failed": "bold red",
    "skipped": "dim",
    "in feed, no push": "cyan",
    "removed": "dim strike",
}


def local(dt: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A naive-UTC database timestamp in the clinic's time zone."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC).astimezone(tz)


def when(dt: datetime | None, tz: ZoneInfo) -> str:
    d = local(dt, tz)
    return d.strftime("%Y-%m-%d %H:%M") if d else ""


def day(d: date | datetime | None, tz: ZoneInfo | None = None) -> str:
    if d is None:
        return ""
    if isinstance(d, datetime):
        d = (local(d, tz) or d).date() if tz else d.date()
    return d.isoformat()


def num(n: int) -> str:
    """1234 -> 1,234 (thin, readable at a glance)."""
    return f"{n:,}"


def cell(value: str, status: str | None = None) -> Text:
    return Text(value, style=CELL_STYLE.get(status or value, ""), no_wrap=True, overflow="ellipsis")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{num(n)} {word if n == 1 else (many or word + 's')}"
