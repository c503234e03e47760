"""The outbox in the database: claiming with a lease, renewing it, handing rows over to
a transport, recording results, releasing. Every write is guarded by a token.

A delivery's life, and what guards each step:

    pending/retrying --claim--> sending (claimed_by, claim_token T, lease_until)
        --hand over (checks, then handed_token = T, handed_at, attempts + 1)--> in flight
        --result (guarded by handed_token = T)--> sent / retrying / failed

- **claim** (one statement no other dispatcher can interleave with): PostgreSQL
  `WITH c AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) UPDATE … RETURNING`; SQLite
  `BEGIN IMMEDIATE` then `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`. Claimable:
  due `pending`/`retrying` rows, and `sending` rows whose lease ran out, never a row the
  same dispatcher holds. Each claim gets a fresh token. The order between a broadcast's
  rows is part of the claim (below), so any number of dispatchers keep it.
- **renew**: every third of a lease, a dispatcher extends the leases of what it holds,
  so a slow server never lets a lease run out under a row being worked on.
- **hand over** (core.delivery.handover): immediately before the transport call, in one
  transaction that locks the rows, the rows are checked again (still ours, not
  cancelled, consent, opt-out, window, sending hours) and marked handed over.
- **results** of a send are written guarded by its `handed_token`: a result from an
  old claim never overwrites a newer hand-over; a late success is still recorded
  (the ledger tells the truth), a late failure is not (the row moved on).

A row `sending` with `handed_at` set is *in flight*; a claimed row without it is not
handed over, and a stop, a removal or an opt-out cancels it (`not_handed_over`). A row
whose dispatcher died after handing it over is found at its next claim with `handed_at`
still set: for a gateway call the idempotency key makes sending it again safe; for an
email the outcome is unknown (core.delivery.retry decides).

Order between a broadcast's rows:
- a `put` waits for the older open `put` of its campaign (content goes out in order);
- a `publish` waits until no `put` of its campaign is open (the broadcast exists);
- a `push` waits until its recipient is in the feed and that publish went out, and
  until no `put` of its campaign is open (a push sent after an edit names the content
  the feed shows, not the one a retried `put` has yet to replace); an `unpublish` waits
  for the open `publish` of its recipient;
- an `expire` waits for the open `put`/`publish`/`unpublish` of its campaign.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

import peewee as pw

from core.db import is_postgres, write_transaction
from core.enums import FINISHED, DeliveryKind, DeliveryState
from core.models import Delivery, Recipient, database
from core.reasons import Reason

CHUNK = 500
_KINDS = {k.value: k for k in DeliveryKind}


class Ids(pw.ColumnBase):
    """A list of ids as query parameters, for `field.in_(Ids(ids))`: written in one step,
    where peewee's own `in_(list)` makes a node of each id (about 2 ms for 500 — more
    than the statement itself). An empty list matches nothing."""

    def __init__(self, ids):
        self.ids = list(ids)

    def __sql__(self, ctx):
        if not self.ids:
            return ctx.literal("(NULL)")
        if ctx.state.value_literals:  # a query printed for reading, not run
            return ctx.literal("(" + ", ".join(str(int(i)) for i in self.ids) + ")")
        ctx.literal("(" + ",".join([ctx.state.param or "?"] * len(self.ids)) + ")")
        ctx._values.extend(self.ids)
        return ctx


def one_of(field, ids) -> pw.Expression:
    """`field` is one of `ids`, written in one step: on PostgreSQL `field = ANY(array)`,
    one parameter (a list of 1,000 parameters cost the server more to parse and plan than
    the read itself: the hand-over's read of 1,000 rows took 31 ms so, 15 ms with the
    array); on SQLite `field IN (Ids)`."""
    if is_postgres():
        return field == pw.fn.ANY(pw.Value(list(ids), converter=False, unpack=False))
    return field.in_(Ids(ids))


def ids_sql(column: str, ids: list) -> tuple[str, list]:
    """`one_of` for a statement written as SQL: its text and its parameters."""
    p = database.param
    if is_postgres():
        return f"{column} = ANY({p})", [list(ids)]
    return f"{column} IN ({','.join([p] * len(ids))})", list(ids)


_SHAPES: dict[tuple, tuple[str, list]] = {}


def by_ids(key: tuple, build, ids: list[int]) -> tuple[str, list]:
    """(sql, params) of `build(ids)` (a statement selecting them with `one_of`), whose ids
    are its last parameters (on PostgreSQL its last one, an array), written once per `key`
    and number of ids: the statements run for every email (the hand-over's read with its
    consent rules) cost more to write than to run."""
    array = is_postgres()  # one parameter, whatever the number of ids
    shape = (*key, -1 if array else len(ids))
    got = _SHAPES.get(shape)
    if got is None:
        marks = [-1 - i for i in range(1 if array else len(ids))]  # never an id
        sql, params = build(marks).sql()
        tail = [marks] if array else marks
        if list(params[len(params) - len(tail) :]) != tail:  # pragma: no cover - a statement of another shape
            raise ValueError("by_ids: the ids must be the statement's last parameters")
        got = _SHAPES[shape] = (sql, list(params[: len(params) - len(tail)]))
        if len(_SHAPES) > 512:
            _SHAPES.clear()
    return got[0], got[1] + ([list(ids)] if array else list(ids))


def fetch(query) -> list[tuple]:
    """A query's rows as the driver gives them (no per-value conversion by peewee): for
    the hot paths, whose columns are ids, texts and counts."""
    return database.execute_sql(*query.sql()).fetchall()


class Claimed(NamedTuple):
    """A claimed row as the claim returned it (a tuple: thousands are made a second)."""

    id: int
    kind: DeliveryKind
    campaign_id: int
    recipient_id: int | None
    key: str  # the idempotency key
    attempts: int  # hand-overs so far
    outcomes_unknown: int
    content_version: int
    token: str  # this claim's token
    orphaned: bool  # handed over by an earlier claim that recorded no result


def not_handed_over() -> pw.Expression:
    """Deliveries no transport has been given: waiting, or claimed but not started."""
    return Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING)) | (
        (Delivery.status == DeliveryState.SENDING) & Delivery.handed_at.is_null(True)
    )


def in_flight() -> pw.Expression:
    """Deliveries handed to a transport whose result is not recorded yet."""
    return (Delivery.status == DeliveryState.SENDING) & Delivery.handed_at.is_null(False)


def cancel(deliveries: pw.Expression, reason: Reason, detail: str = "") -> int:
    """Cancel what matches `deliveries` and was not handed over (a dispatcher holding such
    a row sees it at hand-over and gives it up); the number cancelled."""
    return _cancelling(deliveries, reason, detail).execute()


def cancel_returning_recipients(deliveries: pw.Expression, reason: Reason, detail: str = "") -> list[int]:
    """`cancel`, saying whose: the recipient id of each delivery cancelled."""
    q = _cancelling(deliveries, reason, detail).returning(Delivery.recipient)
    return [d.recipient_id for d in q.execute()]


def _cancelling(deliveries: pw.Expression, reason: Reason, detail: str) -> pw.ModelUpdate:
    """The one cancelling UPDATE (a stop, a removal, an opt-out). On PostgreSQL its rows
    are locked first in id order, the order the hand-over locks them in
    (core.delivery.handover): a stop scanning a campaign's rows in table order while a
    dispatcher locked a batch of them by id was a deadlock, seen once under load."""
    which: pw.Expression = deliveries & not_handed_over()
    if is_postgres():
        locked = Delivery.select(Delivery.id).where(which).order_by(Delivery.id).for_update()
        which = Delivery.id.in_(locked) & not_handed_over()
    return Delivery.update(
        status=DeliveryState.CANCELLED,
        error_code=reason,
        last_error=detail,
        claimed_by=None,
        claim_token=None,
        lease_until=None,
    ).where(which)


# --- claiming ---------------------------------------------------------------------------

# "not finished yet", written as NOT IN the finished statuses: the planner then finds the
# rows by recipient/campaign, not by a status index whose statistics lag behind a big start
_OPEN = "NOT IN (" + ",".join(f"'{s.value}'" for s in FINISHED) + ")"
_DUE = """((d.status IN ('pending','retrying') AND d.due_at <= {p})
      OR (d.status = 'sending' AND d.lease_until < {p}))"""
# SQLite: the same, one branch a status, so that each is read in (status, due_at) index
# order and stops at the limit (with the OR, every claimable row was checked and sorted
# at every claim: a 5,000-row broadcast claimed 1,000 at a time checked 15,000)
_DUE_BRANCHES = (
    "d.status = 'pending' AND d.due_at <= {p}",
    "d.status = 'retrying' AND d.due_at <= {p}",
    "d.status = 'sending' AND d.lease_until < {p}",
)
_CONDITIONS = f"""
    (d.claimed_by IS NULL OR d.claimed_by <> {{p}})
    {{kinds}}
    AND (d.kind <> 'put' OR NOT EXISTS (
          SELECT 1 FROM {{t}} q WHERE q.campaign_id = d.campaign_id AND q.kind = 'put'
          AND q.id < d.id AND q.status {_OPEN}))
    AND (d.kind NOT IN ('publish','push') OR NOT EXISTS (
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
_RETURNING = (
    "id, kind, campaign_id, recipient_id, idempotency_key, attempts, outcomes_unknown, content_version, handed_at"
)


def claim(
    worker: str, now: datetime, lease_seconds: float, limit: int, kinds: tuple[DeliveryKind, ...] = tuple(DeliveryKind)
) -> list[Claimed]:
    """Claim up to `limit` due deliveries of `kinds` for `worker`; committed before it returns."""
    if limit <= 0 or not kinds:
        return []
    t = Delivery._meta.table_name
    p = database.param
    token = str(uuid.uuid4())
    lease_until = now + timedelta(seconds=lease_seconds)
    every_kind = set(kinds) >= set(DeliveryKind)
    where = _CONDITIONS.format(
        p=p,
        t=t,
        r=Recipient._meta.table_name,
        true="TRUE" if is_postgres() else "1",
        kinds="" if every_kind else f"AND d.kind IN ({', '.join([p] * len(kinds))})",
    )
    where_params = [worker, *([] if every_kind else [k.value for k in kinds])]
    sets = f"status = 'sending', claimed_by = {p}, claim_token = {p}, lease_until = {p}"
    if is_postgres():
        returning = ", ".join(f"{t}.{c.strip()}" for c in _RETURNING.split(","))
        sql = (
            f"WITH c AS (SELECT d.id FROM {t} d WHERE {_DUE.format(p=p)} AND {where} ORDER BY d.due_at, d.id "
            f"LIMIT {p} FOR UPDATE OF d SKIP LOCKED) UPDATE {t} SET {sets} FROM c WHERE {t}.id = c.id "
            f"RETURNING {returning}"
        )
        params = [now, now, *where_params, limit, worker, token, lease_until]
    else:
        branches = " UNION ALL ".join(
            f"SELECT * FROM (SELECT d.id, d.due_at FROM {t} d WHERE {due.format(p=p)} AND {where} "
            f"ORDER BY d.due_at, d.id LIMIT {p})"
            for due in _DUE_BRANCHES
        )
        sql = (
            f"UPDATE {t} SET {sets} WHERE id IN (SELECT id FROM ({branches}) ORDER BY due_at, id LIMIT {p}) "
            f"RETURNING {_RETURNING}"
        )
        params = [worker, token, lease_until, *([now, *where_params, limit] * len(_DUE_BRANCHES)), limit]
    with write_transaction():
        rows = database.execute_sql(sql, params).fetchall()
    kinds_by_name = _KINDS
    out = [
        Claimed(i, kinds_by_name[k], c, r, key, a, u, v, token, handed is not None)
        for i, k, c, r, key, a, u, v, handed in rows
    ]
    out.sort()  # by id: ids are unique, the first field decides
    return out


def adopt(worker: str, now: datetime) -> int:
    """At the start of a pass: what `worker` still holds from an earlier pass (a hand-over
    that failed, a call abandoned past the stop's grace) becomes claimable again — by
    anyone, this worker included — as if its lease had run out."""
    with write_transaction():
        return (
            Delivery.update(claimed_by=None, lease_until=now)
            .where(Delivery.claimed_by == worker, Delivery.status == DeliveryState.SENDING)
            .execute()
        )


def renew(worker: str, now: datetime, lease_seconds: float) -> int:
    """Extend the lease of every row `worker` holds; the number renewed."""
    with write_transaction():
        return (
            Delivery.update(lease_until=now + timedelta(seconds=lease_seconds))
            .where(Delivery.claimed_by == worker, Delivery.status == DeliveryState.SENDING)
            .execute()
        )


def release(rows: list[Claimed]) -> int:
    """Give claimed rows that were not handed over back (a stop): claimable again at once
    by anyone, nothing counted against them."""
    n = 0
    for chunk in _chunks(rows):
        q = Delivery.update(
            status=pw.Case(None, [(Delivery.attempts == 0, DeliveryState.PENDING.value)], DeliveryState.RETRYING.value),
            claimed_by=None,
            claim_token=None,
            lease_until=None,
        ).where(
            Delivery.id.in_(Ids(r.id for r in chunk)),
            Delivery.claim_token.in_(list({r.token for r in chunk})),
            Delivery.status == DeliveryState.SENDING,
            Delivery.handed_at.is_null(True),
        )
        with write_transaction():
            n += q.execute()
    return n


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]
