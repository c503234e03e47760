"""The relay's pace (SPEC §5): `[email] max_per_minute` and `max_per_day` (0 = none).

A mailbox provider's relay caps what an account sends (a common one: 30 a minute,
10,000 a day) and refuses or flags an account that goes faster. Every email handed to
the relay takes a slot (`EmailSlot`, one row each) in the hand-over's transaction,
after counting the slots of the last 60 seconds and of the last 24 hours: all
dispatchers, on all hosts, count the same rows (PostgreSQL serialises them with a
transaction-scoped advisory lock, SQLite with its write lock), so no 60 s window and
no 24 hours ever hold more than the caps. The claim takes no more emails than there
are free slots, so the cap is used whenever there is work, and the rest wait, due,
for the next pass. A relay that still answers "slow down" (a 4xx greeting, a 421/451/452
that says so) or names its sending limit (X.4.5) pauses the email channel for the time it
asks (core.channels.smtp_answers reads the answer, core.channel_health keeps the pause).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import peewee as pw

from core.db import is_postgres
from core.enums import OPEN, DeliveryKind
from core.models import EmailSlot, database
from core.scheduling.heartbeat import something_sends

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


def _paced(email, start: datetime, count: int, used: tuple[int, int]) -> datetime:
    """When the last of `count` emails leaves at the relay's pace from `start`, all hours
    counted; `used`: the slots the windows already hold (a minute's, a day's)."""
    per_minute, per_day = used
    at = start
    if email.max_per_minute:
        # the first batch fits in what the current window has left, then one window per cap
        after = max(0, count - max(0, email.max_per_minute - per_minute))
        at = max(at, start + MINUTE * math.ceil(after / email.max_per_minute))
    if email.max_per_day:
        after = max(0, count - max(0, email.max_per_day - per_day))
        at = max(at, start + DAY * math.ceil(after / email.max_per_day))
    return at


def _in_hours(config, start: datetime, last: datetime) -> datetime:
    """The pace's span from `start` to `last` in sending hours (SPEC §11): the minutes it
    takes run only while emails may leave. A day's cap is real days: sending resumes at
    the first allowed moment after it frees up."""
    from core.sending_hours import after_sending_for, first_allowed

    if last - start >= DAY:
        return first_allowed(config, last)
    return after_sending_for(config, start, last - start)


def _last_of(config, now: datetime, first: datetime, dues: list[tuple[datetime, int]]) -> datetime | None:
    """When the last of some emails leaves at the relay's pace, in sending hours (None: no
    cap, or none). `dues`: how many fall due when, (due time, n) in the claim's order; none
    leaves before it is due nor before `first` (a "slow down" pause, sending hours): a
    retry backed off until tomorrow goes tomorrow, not in the next minute's batch. Paced
    in batches: the emails due by the time those before them have left go on at the pace;
    one due later starts a batch of its own when it falls due. The slots used now count in
    the windows that still hold them."""
    from core.sending_hours import first_allowed_in, hours_of

    if not limited(config.email) or not dues:
        return None
    hours, tz, email = hours_of(config), config.clinic.tz, config.email
    per_minute, per_day = _used(first, email)

    def paced(start: datetime, n: int) -> datetime:  # the end of a batch, all hours counted
        return _paced(
            email, start, n, (per_minute if start < first + MINUTE else 0, per_day if start < first + DAY else 0)
        )

    def ends(start: datetime, n: int) -> datetime:  # the same in sending hours
        last = paced(start, n)
        return start if last == start else _in_hours(config, start, last)

    start, n = first, 0  # the batch: from when, how many
    for due, count in sorted(dues):
        # sending hours only make a batch end later: the cheap test first
        if n and due > paced(start, n) and due > ends(start, n):
            n = 0  # all gone before these fall due
        if not n:
            start = first if due <= first else first_allowed_in(hours, tz, due)
        n += count
    return ends(start, n) if n else None


def describe(config, now: datetime, count: int, begins: datetime | None = None, *, sending: bool = True) -> str:
    """For `start` (the CLI and the TUI's confirmation): when the last of its `count`
    emails leaves at the relay's pace, or "" when there is no cap. They are due at
    `begins` (when sending can begin; default now), after the emails waiting that are due
    by then; those due later (a retry's backoff) go after them. `sending` False: nothing
    alive sends them (core.scheduling.heartbeat.something_sends), so no time to give — the caps alone,
    as `status` says them (`_words`)."""
    from core import formats
    from core.channel_health import local_time
    from core.i18n import _

    if not sending:
        return caps_words(config.email)
    first = max(now, begins or now)
    last = _last_of(config, now, first, [*_open_dues(until=first), (first, count)]) if count > 0 else None
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


_EMAILS = (DeliveryKind.EMAIL, DeliveryKind.TEST_EMAIL)  # DeliveryKind.by_email


def _open_emails():
    """Emails not sent yet, of every campaign."""
    from core.models import Delivery

    return Delivery.select().where(Delivery.kind.in_(_EMAILS), Delivery.status.in_(OPEN))


def _dues(emails) -> list[tuple[datetime, int]]:
    """(due time, how many) of these deliveries, in the claim's order (by due time), by the
    minute the pace counts in: retries' jittered due times come a few to a minute."""
    from core.models import Delivery

    out: dict[datetime, int] = {}
    for due, n in emails.select(Delivery.due_at, pw.fn.COUNT(Delivery.id)).group_by(Delivery.due_at).tuples():
        if isinstance(due, str):  # SQLite's text
            due = datetime.fromisoformat(due)
        at = due.replace(second=0, microsecond=0)
        out[at] = out.get(at, 0) + n
    return sorted(out.items())


def _open_dues(until: datetime | None = None) -> list[tuple[datetime, int]]:
    """`_dues` of the emails not sent yet, of every campaign (due by `until`, if given)."""
    from core.models import Delivery

    emails = _open_emails()
    if until is not None:
        emails = emails.where(Delivery.due_at <= until)
    return _dues(emails)


def caps_words(email) -> str:
    """The relay's caps as staff read them — "at most 60 emails a minute (the relay's
    limit)" — or "" when there is none."""
    from core import formats
    from core.i18n import ngettext

    per_minute, per_day = email.max_per_minute, email.max_per_day
    if per_minute and per_day:
        said = ngettext(
            "at most {per_minute} email a minute and {per_day} a day (the relay's limits)",
            "at most {per_minute} emails a minute and {per_day} a day (the relay's limits)",
            per_minute,
        )
    elif per_minute:
        said = ngettext(
            "at most {per_minute} email a minute (the relay's limit)",
            "at most {per_minute} emails a minute (the relay's limit)",
            per_minute,
        )
    elif per_day:
        said = ngettext(
            "at most {per_day} email a day (the relay's limit)",
            "at most {per_day} emails a day (the relay's limit)",
            per_day,
        )
    else:
        return ""
    return said.format(per_minute=formats.number(per_minute), per_day=formats.number(per_day))


def _first_slot(config, now: datetime) -> datetime:
    """When the next email may leave: now, or when the relay's "slow down" pause ends
    (core.channel_health), within sending hours."""
    from core.channel_health import EMAIL, problems
    from core.sending_hours import first_allowed

    until = max([p.until for p in problems() if p.channel == EMAIL and p.until > now], default=now)
    return first_allowed(config, until)


def _words(config, now: datetime, n: int, dues: list[tuple[datetime, int]]) -> str:
    """The caps, and `n` emails waiting whose last leaves after the emails `dues` counts
    (its own included, `_last_of`): about when, while a scheduler sends (nobody sending:
    no time to give)."""
    from core import formats
    from core.channel_health import local_time
    from core.i18n import ngettext

    caps = caps_words(config.email)
    if not n:
        return caps
    # the command line has no scheduler of its own: a live daemon sends (one rule for who sends)
    if not something_sends(config, now):  # `status` says who does not send, and why
        return ngettext("{caps}; {n} email waiting", "{caps}; {n} emails waiting", n).format(
            caps=caps, n=formats.number(n)
        )
    last = _last_of(config, now, _first_slot(config, now), dues) or now
    return ngettext(
        "{caps}; {n} email waiting, it leaves around {when}",
        "{caps}; {n} emails waiting, the last leaves around {when}",
        n,
    ).format(caps=caps, n=formats.number(n), when=local_time(last, config, now))


def channel_words(config, now: datetime) -> str:
    """For `clinicast status`, beside the email channel: the relay's caps and, with
    emails waiting, about when the last of them leaves at that pace (SPEC §5) — why
    emails stay queued; "" when there is no cap."""
    if not limited(config.email):
        return ""
    dues = _open_dues()
    return _words(config, now, sum(n for _due, n in dues), dues)


def campaign_words(config, campaign_id: int, now: datetime) -> str:
    """For `campaigns show` of an invitation: the relay's caps and, with emails of this
    campaign waiting, about when its last leaves — after every email due before it, of
    any campaign, as dispatchers take them (by due time); "" when there is no cap."""
    from core.models import Delivery

    if not limited(config.email):
        return ""
    open_emails = _open_emails()
    mine = open_emails.where(Delivery.campaign == campaign_id, Delivery.kind == DeliveryKind.EMAIL)
    n = mine.count()
    last = mine.select(Delivery.id, Delivery.due_at).order_by(Delivery.due_at.desc(), Delivery.id.desc()).first()
    if last is None:
        return _words(config, now, 0, [])
    # in the claim's order (due time, then id): those before its last, and its last
    before = (Delivery.due_at < last.due_at) | ((Delivery.due_at == last.due_at) & (Delivery.id <= last.id))
    return _words(config, now, n, _dues(open_emails.where(before)))


__all__ = [
    "campaign_words",
    "caps_words",
    "channel_words",
    "describe",
    "free",
    "limited",
    "take",
]
