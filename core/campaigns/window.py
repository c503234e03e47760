"""A broadcast's window (SPEC §2): its bounds in UTC, upcoming / live / ended, and a
stored window out of core.dates' range (`invalid`, fixed with `campaigns edit`)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from core import dates
from core.enums import Kind
from core.errors import Refused
from core.i18n import _
from core.models import Campaign

UPCOMING, LIVE, ENDED = "upcoming", "live", "ended"
INVALID = "invalid"  # a stored window out of core.dates' range: fix it with `campaigns edit`


def window_bounds(campaign: Campaign, tz) -> tuple[datetime, datetime]:
    """The window as naive UTC [opens, closes): first day 00:00 to the day after the last, local.
    A stored day out of core.dates' range (a row written before it was checked) is
    clamped into it, so nothing that computes a window can overflow; such a campaign
    shows as `invalid` (window_state) until `campaigns edit` fixes it."""
    first, last = dates.clamp(campaign.starts_on), dates.clamp(campaign.ends_on)
    opens = datetime.combine(first, time(0), tzinfo=tz)
    closes = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return (opens.astimezone(UTC).replace(tzinfo=None), closes.astimezone(UTC).replace(tzinfo=None))


def window_state(campaign: Campaign, now: datetime, tz) -> str | None:
    """upcoming / live / ended for a broadcast at naive-UTC `now`; None for an invitation."""
    if campaign.kind != Kind.BROADCAST or not campaign.starts_on:
        return None
    if not window_valid(campaign):
        return INVALID
    opens, closes = window_bounds(campaign, tz)
    if now < opens:
        return UPCOMING
    return LIVE if now < closes else ENDED


def window_valid(campaign: Campaign) -> bool:
    """Whether a broadcast's stored window can be shown and used (both days in range)."""
    return dates.in_range(campaign.starts_on) and dates.in_range(campaign.ends_on)


def require_valid_window(campaign: Campaign) -> None:
    """Refused, saying how to fix it, for a broadcast whose stored window is invalid."""
    if campaign.kind == Kind.BROADCAST and campaign.starts_on and not window_valid(campaign):
        raise Refused(
            _(
                "campaign {id}'s window ({first} → {last}) is invalid: each day must be {range}; fix it with "
                "`clinicast campaigns edit {id} --starts YYYY-MM-DD --ends YYYY-MM-DD`"
            ).format(id=campaign.id, first=campaign.starts_on, last=campaign.ends_on, range=dates.range_words())
        )
