"""The outbox: claiming due deliveries with a lease, backoff, recording results in bulk.

The database is the only source of truth. A dispatcher *claims* rows — status
`sending`, `claimed_by` = its name, `lease_until` = now + lease — in one statement that
no other dispatcher can interleave with:

- PostgreSQL: `WITH c AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) UPDATE … RETURNING`;
  two dispatchers skip each other's locked rows, nobody waits.
- SQLite: `BEGIN IMMEDIATE` (the write lock first) then `UPDATE … WHERE id IN (SELECT …
  LIMIT n) RETURNING`.

Claimable: `pending`/`retrying` rows due now, and `sending` rows whose lease ran out
(their dispatcher died). `attempts` counts claims, so a delivery that crashes its
dispatcher is still bounded by `max_attempts`. Order between rows of one broadcast is
part of the claim, so any number of dispatchers keep it:

- a `put` waits for the older open `put` of its campaign (content goes out in order);
- a `publish` waits until no `put` of its campaign is open (the broadcast exists);
- a `push` waits until its recipient is in the feed (`in_feed`: the publish was written,
  at assign during the window or by `publish_due` when it opens) and that publish went
  out — a push never points to a message the patient cannot see yet; an `unpublish`
  waits for the open `publish` of its recipient (a removal is not overtaken by the add);
- an `expire` waits for the open `put`/`publish`/`unpublish` of its campaign.

Results are written back in a few set-based statements per batch; each update is
guarded by `claimed_by = me AND status = 'sending'`, so a dispatcher that lost its lease
never overwrites the result of the one that took the row over.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw

from .db import is_postgres, write_transaction
from .enums import DeliveryKind, DeliveryState, RecipientStatus
from .models import Delivery, Invitation, Recipient, database

CHUNK = 500

# recipient statuses a delivery result may change (a removed recipient stays removed)
_FOLLOWING = {
    DeliveryKind.EMAIL: (RecipientStatus.QUEUED, RecipientStatus.RETRYING),
    DeliveryKind.PUSH: (RecipientStatus.QUEUED, RecipientStatus.RETRYING),
    DeliveryKind.PUBLISH: (
        RecipientStatus.ASSIGNED,
        RecipientStatus.QUEUED,
        RecipientStatus.RETRYING,
    ),  # only failures and skips touch them
}


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    campaign_id: int
    recipient_id: int | None
    key: str
    attempts: int  # including this one
    content_version: int


# --- claiming ---------------------------------------------------------------------------

# "not finished yet", written as NOT IN the finished statuses: the planner then finds the
# rows by recipient/campaign, not by a status index whose statistics lag behind a big start
_OPEN = "NOT IN ('sent','failed','skipped','cancelled')"
_CONDITIONS = f"""
    ((d.status IN ('pending','retrying') AND d.due_at <= {{p}})
      OR (d.status = 'sending' AND d.lease_until < {{p}}))
    {{kinds}}
    AND (d.kind <> 'put' OR NOT EXISTS (
          SELECT 1 FROM {{t}} q WHERE q.campaign_id = d.campaign_id AND q.kind = 'put'
          AND q.id < d.id AND q.status {_OPEN}))
    AND (d.kind <> 'publish' OR NOT EXISTS (
          SELECT 1 FROM {{t}} q WHERE q.campaign_id = d.campaign_id AND q.kind = 'put'
          AND q.status {_OPEN}))
    AND (d.kind NOT IN ('push','unpublish') OR d.recipient_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM {{t}} q WHERE q.recipient_id = d.recipient_id AND q.kind = 'publish'
          AND q.status {_OPEN}))
    AND (d.kind <> 'push' OR EXISTS (
          SELECT 1 FROM {{r}} r WHERE r.id = d.recipient_id AND r.in_feed = {{true}}))
    AND (d.kind <> 'expire' OR NOT EXISTS (
          SELECT 1 FROM {{t}} q WHERE q.campaign_id = d.campaign_id
          AND q.kind IN ('put','publish','unpublish') AND q.status {_OPEN}))
"""
_RETURNING = "id, kind, campaign_id, recipient_id, idempotency_key, attempts, content_version"


def claim(
    worker: str, now: datetime, lease_seconds: float, limit: int, kinds: tuple[str, ...] = tuple(DeliveryKind)
) -> list[Claimed]:
    """Claim up to `limit` due deliveries for `worker`; committed before it returns."""
    if limit <= 0 or not kinds:
        return []
    t = Delivery._meta.table_name
    p = database.param
    lease_until = now + timedelta(seconds=lease_seconds)
    every_kind = set(kinds) >= set(tuple(DeliveryKind))
    where = _CONDITIONS.format(
        p=p,
        t=t,
        r=Recipient._meta.table_name,
        true="TRUE" if is_postgres() else "1",
        kinds="" if every_kind else f"AND d.kind IN ({', '.join([p] * len(kinds))})",
    )
    where_params = [now, now, *([] if every_kind else kinds)]
    if is_postgres():
        sql = (
            f"WITH c AS (SELECT d.id FROM {t} d WHERE {where} ORDER BY d.due_at, d.id LIMIT {p} "
            f"FOR UPDATE OF d SKIP LOCKED) "
            f"UPDATE {t} SET status = 'sending', claimed_by = {p}, lease_until = {p}, "
            f"attempts = {t}.attempts + 1 FROM c WHERE {t}.id = c.id "
            f"RETURNING " + ", ".join(f"{t}.{c.strip()}" for c in _RETURNING.split(","))
        )
        params = [*where_params, limit, worker, lease_until]
    else:
        sql = (
            f"UPDATE {t} SET status = 'sending', claimed_by = {p}, lease_until = {p}, "
            f"attempts = attempts + 1 WHERE id IN (SELECT d.id FROM {t} d WHERE {where} "
            f"ORDER BY d.due_at, d.id LIMIT {p}) RETURNING {_RETURNING}"
        )
        params = [worker, lease_until, *where_params, limit]
    with write_transaction():
        rows = database.execute_sql(sql, params).fetchall()
    return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)


def release(worker: str, ids: list[int], *, started: bool = False) -> int:
    """Give claimed rows back (shutdown): claimable again at once by anyone. Rows never
    sent get their attempt back; rows whose send may have gone out keep it."""
    n = 0
    for chunk in _chunks(ids):
        q = Delivery.update(
            status=pw.Case(
                None, [(Delivery.attempts <= (0 if started else 1), DeliveryState.PENDING)], DeliveryState.RETRYING
            ),
            attempts=Delivery.attempts - (0 if started else 1),
            claimed_by=None,
            lease_until=None,
        ).where(Delivery.id.in_(chunk), Delivery.claimed_by == worker, Delivery.status == DeliveryState.SENDING)
        with write_transaction():
            n += q.execute()
    return n


def release_all(worker: str) -> int:
    """Every row still claimed by `worker` (at the end of a graceful stop)."""
    ids = [
        i
        for (i,) in Delivery.select(Delivery.id)
        .where(Delivery.claimed_by == worker, Delivery.status == DeliveryState.SENDING)
        .tuples()
    ]
    return release(worker, ids, started=True)


# --- backoff ------------------------------------------------------------------------------


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """About base * 2^(attempt-1), capped at `cap`, with jitter (75–100 %) so a crowd of
    failures does not come back at the same instant."""
    rng = rng or random
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * rng.uniform(0.75, 1.0)


def retry_delay(
    attempt: int, retry_after: float | None, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """The server's Retry-After when it gave one (plus a little jitter), else the backoff."""
    rng = rng or random
    if retry_after is not None:
        return retry_after + rng.uniform(0, min(1.0, retry_after * 0.1))
    return backoff_seconds(attempt, base, cap, rng)


# --- recording --------------------------------------------------------------------------


@dataclass
class Result:
    """What became of one claimed delivery."""

    claimed: Claimed
    state: str  # DeliveryState.SENT, DeliveryState.RETRYING, DeliveryState.FAILED, DeliveryState.SKIPPED, DeliveryState.CANCELLED
    error: str = ""
    due_at: datetime | None = None  # retrying: the next attempt


def record(worker: str, results: list[Result], now: datetime) -> dict[str, int]:
    """Write every result of a batch (and the recipients that follow) in one transaction.

    Returns counts by state of what was actually written (rows whose lease was lost
    to another dispatcher are left to it).
    """
    written: dict[str, int] = {}
    if not results:
        return written
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        k = (r.state, r.error if r.state not in (DeliveryState.RETRYING, DeliveryState.PENDING) else "")
        groups.setdefault(k, []).append(r)
    with write_transaction():
        for (state, error), rs in groups.items():
            for chunk in _chunks(rs):
                by_id = {r.claimed.id: r for r in chunk}
                done = _update_deliveries(worker, state, error, chunk, now)
                if done:
                    written[state] = written.get(state, 0) + len(done)
                _follow(state, [by_id[i] for i in done], now)
    return written


def _update_deliveries(worker: str, state: str, error: str, chunk: list[Result], now: datetime) -> list[int]:
    ids = [r.claimed.id for r in chunk]
    values: dict = {Delivery.status: state, Delivery.claimed_by: None, Delivery.lease_until: None}
    if state == DeliveryState.SENT:
        values.update({Delivery.sent_at: now, Delivery.last_error: ""})
    elif state == DeliveryState.RETRYING:
        values[Delivery.due_at] = pw.Case(Delivery.id, [(r.claimed.id, r.due_at) for r in chunk])
        values[Delivery.last_error] = pw.Case(Delivery.id, [(r.claimed.id, r.error) for r in chunk])
    elif state == DeliveryState.PENDING:  # deferred, not attempted: due later, the attempt given back
        values[Delivery.due_at] = pw.Case(Delivery.id, [(r.claimed.id, r.due_at) for r in chunk])
        values[Delivery.attempts] = Delivery.attempts - 1
    else:
        values[Delivery.last_error] = error
    q = (
        Delivery.update(values)
        .where(Delivery.id.in_(ids), Delivery.claimed_by == worker, Delivery.status == DeliveryState.SENDING)
        .returning(Delivery.id)
    )
    return [row.id for row in q.execute()]


def _follow(state: str, results: list[Result], now: datetime) -> None:
    """Recipient statuses follow their email/push delivery; a publish only on failure."""
    if state == DeliveryState.FAILED:
        # an invitation whose email never went is not an invitation (the funnel counts them)
        ids = [r.claimed.id for r in results if r.claimed.kind == DeliveryKind.EMAIL]
        if ids:
            Invitation.delete().where(Invitation.delivery.in_(ids)).execute()
    by_kind: dict[str, list[Result]] = {}
    for r in results:
        if r.claimed.recipient_id is not None and r.claimed.kind in _FOLLOWING:
            by_kind.setdefault(r.claimed.kind, []).append(r)
    for kind, rs in by_kind.items():
        allowed = _FOLLOWING[kind]
        rids = [r.claimed.recipient_id for r in rs]
        if state == DeliveryState.SENT:
            if kind == DeliveryKind.PUBLISH:
                continue
            values = {
                Recipient.status: RecipientStatus.SENT,
                Recipient.sent_at: now,
                Recipient.reason: "",
                Recipient.next_attempt_at: None,
            }
        elif state == DeliveryState.RETRYING:
            if kind == DeliveryKind.PUBLISH:
                continue  # still 'assigned' (or queued): the feed is the gateway's business
            values = {
                Recipient.status: RecipientStatus.RETRYING,
                Recipient.next_attempt_at: pw.Case(Recipient.id, [(r.claimed.recipient_id, r.due_at) for r in rs]),
                Recipient.reason: pw.Case(Recipient.id, [(r.claimed.recipient_id, r.error) for r in rs]),
            }
        elif state in (DeliveryState.FAILED, DeliveryState.SKIPPED):
            values = {
                Recipient.status: RecipientStatus.FAILED if state == DeliveryState.FAILED else RecipientStatus.SKIPPED,
                Recipient.reason: rs[0].error,
                Recipient.next_attempt_at: None,
            }
        else:  # cancelled / deferred: the recipient's state is decided elsewhere
            continue
        Recipient.update(values).where(Recipient.id.in_(rids), Recipient.status.in_(allowed)).execute()


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


__all__ = [
    "Claimed",
    "Result",
    "backoff_seconds",
    "claim",
    "record",
    "release",
    "release_all",
    "retry_delay",
]
