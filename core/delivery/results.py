"""Writing what became of deliveries, and the recipients that follow them.

Two guards, one per kind of result:
- `Guard.CLAIM` — decided before any transport call (skipped, cancelled, deferred, an
  orphaned email's unknown outcome): written only while the row is still `sending`
  under this claim's token and not handed over.
- `Guard.HANDOVER` — the answer of a transport call: written only while the row's
  `handed_token` is this claim's. A success is written even if the row moved on since
  (it was sent: the ledger says so, with its time); any other answer only while the row
  is still `sending` under this claim (a stop, a newer claim have the last word).

Recipients follow their email or push delivery (a removed recipient stays removed, but
gets the time a send in flight went out); a publish changes its recipient only when it
fails or is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import peewee as pw

from core.db import is_postgres, joined_transaction
from core.delivery.store import Claimed, Ids, ids_sql, one_of
from core.enums import RECIPIENT_WAITING, DeliveryKind, DeliveryState, RecipientStatus
from core.models import Delivery, Invitation, Recipient, database
from core.reasons import Reason

_CHUNK = 500


class Guard(Enum):
    CLAIM = "claim"
    HANDOVER = "handover"


@dataclass(slots=True)
class Result:
    claimed: Claimed
    state: DeliveryState
    code: str = ""  # core.reasons.Reason
    detail: str = ""
    due_at: datetime | None = None  # retrying / deferred: when it is due again
    unknown: bool = False  # one more hand-over of unknown outcome
    problem: str = ""  # the channel paused (core.channel_health): this hand-over is not an attempt


# recipient statuses a delivery result may change (a removed recipient stays removed)
_FOLLOWING = {
    DeliveryKind.EMAIL: RECIPIENT_WAITING,
    DeliveryKind.PUSH: RECIPIENT_WAITING,
    DeliveryKind.PUBLISH: (RecipientStatus.ASSIGNED, *RECIPIENT_WAITING),
}


def record(results: list[Result], now: datetime, guard: Guard) -> dict[DeliveryState, int]:
    """Write `results` in one transaction (the caller's, if one is open); counts by state
    of what was written (rows that moved on are left as they are). Set-based: a few
    statements per group of results alike (a push request's 500 rows are one group)."""
    written: dict[DeliveryState, int] = {}
    if not results:
        return written
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        c = r.claimed
        key = (r.state, r.code, r.detail, r.unknown, r.problem, c.token, c.orphaned, c.kind)
        groups.setdefault(key, []).append(r)
    with joined_transaction():
        for rs in groups.values():
            for i in range(0, len(rs), _CHUNK):
                chunk = rs[i : i + _CHUNK]
                together = _sent_together(chunk[0])
                done = _write(chunk, now, guard, together)
                if done:
                    written[chunk[0].state] = written.get(chunk[0].state, 0) + len(done)
                    if not together:
                        _follow([r for r in chunk if r.claimed.id in done], now)
    return written


def _sent_together(first: Result) -> bool:
    """PostgreSQL, an email or push sent (the common answer, once for every row): its
    recipients follow in the same statement as the delivery rows (a data-modifying WITH),
    one round trip instead of two."""
    return (
        is_postgres()
        and first.state == DeliveryState.SENT
        and first.claimed.kind in (DeliveryKind.EMAIL, DeliveryKind.PUSH)
        and not (first.unknown or first.code == Reason.MAYBE_TWICE)  # those keep a first copy's time first
    )


def _by_id(rs: list[Result], field, value) -> object:
    """One value for every row, or a CASE on the row id when they differ."""
    values = {value(r) for r in rs}
    if len(values) == 1:
        return values.pop()
    return pw.Case(field, [(r.claimed.id if field is Delivery.id else r.claimed.recipient_id, value(r)) for r in rs])


def _write(rs: list[Result], now: datetime, guard: Guard, together: bool = False) -> set[int]:
    """One UPDATE … RETURNING for results alike, its ids the written ones. Written as SQL
    (like the claim): peewee took longer to write this statement than SQLite to run it
    for 500 rows. `together` (see _sent_together): the recipients of the rows written
    follow in the same statement."""
    first, c = rs[0], rs[0].claimed
    p = database.param
    sets = ["status = " + p, "claimed_by = NULL", "claim_token = NULL", "lease_until = NULL"]
    params: list = [first.state.value]
    if first.state == DeliveryState.SENT:
        # handed_at stays: when it was handed over, for the ledger
        # (a note stays: an earlier copy whose outcome was unknown may have arrived too)
        sets += [f"sent_at = {p}", f"error_code = {p}", f"last_error = {p}"]
        params += [now, first.code, first.detail]
    else:
        # whatever happened is known now: a later claim must not take it for an orphan
        sets += [f"error_code = {p}", f"last_error = {p}", "handed_at = NULL"]
        params += [first.code, first.detail]
    if any(r.due_at is not None for r in rs):
        due = {r.due_at or now for r in rs}
        if len(due) == 1:
            sets.append(f"due_at = {p}")
            params.append(due.pop())
        else:  # one value a row
            sets.append(f"due_at = CASE id {' '.join([f'WHEN {p} THEN {p}'] * len(rs))} END")
            params += [v for r in rs for v in (r.claimed.id, r.due_at or now)]
    if first.unknown:
        # when the first copy of unknown outcome went: the row's hand-over time before this
        # update clears it (SQL reads the old row on the right-hand side)
        sets += ["outcomes_unknown = outcomes_unknown + 1", "first_unknown_at = COALESCE(first_unknown_at, handed_at)"]
    if first.problem:  # the channel's fault, not an attempt at this delivery
        sets.append("attempts = attempts - 1")
    if guard is Guard.CLAIM:
        where = [f"claim_token = {p}", f"status = {p}"] + ([] if c.orphaned else ["handed_at IS NULL"])
        params += [c.token, DeliveryState.SENDING.value]
    elif first.state == DeliveryState.SENT:
        where = [f"handed_token = {p}", "sent_at IS NULL"]
        params.append(c.token)
    else:
        where = [f"handed_token = {p}", f"claim_token = {p}", f"status = {p}"]
        params += [c.token, c.token, DeliveryState.SENDING.value]
    mine, ids = ids_sql("id", [r.claimed.id for r in rs])
    sql = f"UPDATE {Delivery._meta.table_name} SET {', '.join(sets)} WHERE {' AND '.join(where)} AND {mine}"
    if not together:
        return {row[0] for row in database.execute_sql(sql + " RETURNING id", params + ids).fetchall()}
    theirs = "id IN (SELECT recipient_id FROM d)"
    follow, follow_params = _sent_recipients(theirs, c.kind, first.code, first.detail, now)
    sql = f"WITH d AS ({sql} RETURNING id, recipient_id), r AS ({follow}) SELECT id FROM d"
    return {row[0] for row in database.execute_sql(sql, params + ids + follow_params).fetchall()}


def _sent_recipients(theirs: str, kind: DeliveryKind, code: str, detail: str, now: datetime) -> tuple[str, list]:
    """The UPDATE of the recipients `theirs` (SQL) whose email or push went: the time it
    went (a removed recipient gets it too) and, for a recipient still waiting, `sent` — a
    send handed over before a stop (core.recipients.stop) went out: its recipient, put
    back to `assigned`, was sent to. Its text and parameters, `theirs`' last."""
    p = database.param
    states = [s.value for s in (*_FOLLOWING[kind], RecipientStatus.ASSIGNED)]
    waiting = f"status IN ({', '.join([p] * len(states))})"
    sql = (
        f"UPDATE {Recipient._meta.table_name} SET sent_at = COALESCE(sent_at, {p}),"
        f" status = CASE WHEN {waiting} THEN {p} ELSE status END,"
        f" reason_code = CASE WHEN {waiting} THEN {p} ELSE reason_code END,"
        f" reason = CASE WHEN {waiting} THEN {p} ELSE reason END,"
        f" next_attempt_at = CASE WHEN {waiting} THEN NULL ELSE next_attempt_at END"
        f" WHERE (sent_at IS NULL OR {waiting}) AND {theirs}"
    )
    params = [now, *states, RecipientStatus.SENT.value, *states, code, *states, detail, *states, *states]
    return sql, params


def _first_copy(rs: list[Result]) -> None:
    """The recipients keep when their first copy of unknown outcome went (its delivery's
    `first_unknown_at`), whatever their status: a removed recipient may have it too."""
    firsts = (
        Delivery.select(Delivery.recipient, Delivery.first_unknown_at)
        .where(Delivery.id.in_([r.claimed.id for r in rs]), Delivery.first_unknown_at.is_null(False))
        .tuples()
    )
    by_time: dict[datetime, list[int]] = {}
    for rid, at in firsts:
        if isinstance(at, str):  # SQLite, read without the model's conversion
            at = datetime.fromisoformat(at)
        by_time.setdefault(at, []).append(rid)
    for at, rids in by_time.items():
        Recipient.update(first_copy_at=at).where(
            Recipient.id.in_(rids), Recipient.first_copy_at.is_null(True)
        ).execute()


def _follow(rs: list[Result], now: datetime) -> None:
    if not rs:
        return
    first, c = rs[0], rs[0].claimed
    if first.state == DeliveryState.FAILED and c.kind == DeliveryKind.EMAIL and not first.unknown:
        # an invitation whose email never went is not an invitation (the funnel counts them)
        Invitation.delete().where(Invitation.delivery.in_(Ids(r.claimed.id for r in rs))).execute()
    if c.kind not in _FOLLOWING:
        return
    rs = [r for r in rs if r.claimed.recipient_id is not None]
    rids = [r.claimed.recipient_id for r in rs]
    if not rids:
        return
    if first.unknown or first.code == Reason.MAYBE_TWICE:
        _first_copy(rs)
    allowed = _FOLLOWING[c.kind]
    mine = one_of(Recipient.id, rids)
    if first.state == DeliveryState.SENT:
        if c.kind == DeliveryKind.PUBLISH:
            return
        # written as SQL: peewee took longer to write it than SQLite to run it for 500 rows
        theirs, rids_params = ids_sql("id", rids)
        sql, params = _sent_recipients(theirs, c.kind, first.code, first.detail, now)
        database.execute_sql(sql, params + rids_params)
    elif first.state == DeliveryState.RETRYING:
        if c.kind == DeliveryKind.PUBLISH:
            return  # still 'assigned' (or queued): the feed is the gateway's business
        Recipient.update(
            status=RecipientStatus.RETRYING,
            next_attempt_at=_by_id(rs, Recipient.id, lambda r: r.due_at),
            reason_code=first.code,
            reason=first.detail,
        ).where(mine, Recipient.status.in_(allowed)).execute()
    elif first.state in (DeliveryState.FAILED, DeliveryState.SKIPPED):
        values: dict = {
            Recipient.status: RecipientStatus.FAILED
            if first.state == DeliveryState.FAILED
            else RecipientStatus.SKIPPED,
            Recipient.reason_code: first.code,
            Recipient.reason: first.detail,
            Recipient.next_attempt_at: None,
        }
        if c.kind == DeliveryKind.PUBLISH:
            values[Recipient.in_feed] = False
        Recipient.update(values).where(mine, Recipient.status.in_(allowed)).execute()
    elif first.state == DeliveryState.PENDING and any(r.due_at for r in rs):
        # deferred (sending hours, a window that moved): the recipient waits with it
        Recipient.update(next_attempt_at=_by_id(rs, Recipient.id, lambda r: r.due_at)).where(
            mine, Recipient.status.in_(allowed), Recipient.status != RecipientStatus.ASSIGNED
        ).execute()


__all__ = ["Guard", "Result", "record"]
