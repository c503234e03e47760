"""The relay's pace (SPEC §5): `[email] max_per_minute` and `max_per_day` (0 = none).

A mailbox provider's relay caps what an account sends (a common one: 30 a minute,
10,000 a day) and refuses or flags an account that goes faster. Every email handed to
the relay takes a slot (`EmailSlot`, one row each) in the hand-over's transaction,
after counting the slots of the last 60 seconds and of the last 24 hours: all
dispatchers, on all hosts, count the same rows (PostgreSQL serialises them with a
transaction-scoped advisory lock, SQLite with its write lock), so no 60 s window and
no 24 hours ever hold more than the caps. The claim takes no more emails than there
are free slots, so the cap is used whenever there is work, and the rest wait, due,
for the next pass. A relay that still answers 421/451 "slow down" pauses the email
channel for the time it asks (core.channel_health).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from core.db import is_postgres
from core.models import EmailSlot, database

MINUTE = timedelta(seconds=60)
DAY = timedelta(hours=24)
_LOCK = 0x636C6963  # the advisory lock of the pace ("clic")


def limited(email) -> bool:
    return bool(email.max_per_minute or email.max_per_day)


def _used(now: datetime, email) -> tuple[int, int]:
    per_minute = per_day = 0
    if email.max_per_minute:
        per_minute = EmailSlot.select().where(EmailSlot.at > now - MINUTE).count()
    if email.max_per_day:
        per_day = EmailSlot.select().where(EmailSlot.at > now - DAY).count()
    return per_minute, per_day


def free(email, now: datetime) -> int | None:
    """Slots free now (None: no cap). Read without a lock: the claim's estimate."""
    if not limited(email):
        return None
    per_minute, per_day = _used(now, email)
    caps = []
    if email.max_per_minute:
        caps.append(email.max_per_minute - per_minute)
    if email.max_per_day:
        caps.append(email.max_per_day - per_day)
    return max(0, min(caps))


def take(email, now: datetime) -> datetime | None:
    """Take one slot for an email handed over now, inside the hand-over's transaction:
    None when taken (or no cap), else when the next slot frees up."""
    if not limited(email):
        return None
    if is_postgres():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
    per_minute, per_day = _used(now, email)
    waits = []
    if email.max_per_minute and per_minute >= email.max_per_minute:
        waits.append(_frees_at(now, MINUTE, per_minute - email.max_per_minute))
    if email.max_per_day and per_day >= email.max_per_day:
        waits.append(_frees_at(now, DAY, per_day - email.max_per_day))
    if waits:
        return max(waits)
    EmailSlot.insert(at=now).execute()
    EmailSlot.delete().where(EmailSlot.at <= now - DAY).execute()  # what no window counts any more
    return None


def _frees_at(now: datetime, window: timedelta, over: int) -> datetime:
    """When the window holds one slot fewer than the cap: the (over+1)th oldest slot in
    it leaves the window."""
    q = EmailSlot.select(EmailSlot.at).where(EmailSlot.at > now - window).order_by(EmailSlot.at).offset(over).limit(1)
    at = q.scalar()
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return (at or now) + window + timedelta(milliseconds=1)


def last_leaves(email, now: datetime, count: int) -> datetime | None:
    """When the last of `count` emails due now would leave at the relay's pace (None: no
    cap, as fast as the relay takes them). An estimate for staff, from the slots used."""
    if not limited(email) or count <= 0:
        return None
    per_minute, per_day = _used(now, email)
    at = now
    if email.max_per_minute:
        # the first batch fits in what the current window has left, then one window per cap
        after = max(0, count - max(0, email.max_per_minute - per_minute))
        at = max(at, now + MINUTE * math.ceil(after / email.max_per_minute))
    if email.max_per_day:
        after = max(0, count - max(0, email.max_per_day - per_day))
        at = max(at, now + DAY * math.ceil(after / email.max_per_day))
    return at


def describe(config, now: datetime, count: int, begins: datetime | None = None) -> str:
    """For `start` (the CLI and the TUI's confirmation): when the last of `count` emails
    leaves at the relay's pace, or "" when there is no cap. `count` includes the emails
    already waiting ahead of them; `begins`, when sending cannot begin before."""
    from core import formats
    from core.channel_health import local_time
    from core.i18n import _

    start = max(now, begins or now)
    last = last_leaves(config.email, start, count)
    if last is None:
        return ""
    caps = []
    if config.email.max_per_minute:
        caps.append(_("{n} a minute").format(n=formats.number(config.email.max_per_minute)))
    if config.email.max_per_day:
        caps.append(_("{n} a day").format(n=formats.number(config.email.max_per_day)))
    return _("at the relay's pace ({caps}), the last email leaves around {when}").format(
        caps=", ".join(caps), when=local_time(last, config, now)
    )


def waiting_emails() -> int:
    """Emails not sent yet, of every campaign (they go first)."""
    from core.enums import DeliveryKind, DeliveryState
    from core.models import Delivery

    return (
        Delivery.select()
        .where(
            Delivery.kind.in_((DeliveryKind.EMAIL, DeliveryKind.TEST_EMAIL)),
            Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING, DeliveryState.SENDING)),
        )
        .count()
    )


__all__ = ["describe", "free", "last_leaves", "limited", "take", "waiting_emails"]
