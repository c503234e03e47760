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

from ..db import write_transaction
from ..enums import DeliveryKind, DeliveryState, RecipientStatus
from ..models import Delivery, Invitation, Recipient
from .store import Claimed

_CHUNK = 500


class Guard(Enum):
    CLAIM = "claim"
    HANDOVER = "handover"


@dataclass
class Result:
    claimed: Claimed
    state: DeliveryState
    code: str = ""  # core.reasons.Reason
    detail: str = ""
    due_at: datetime | None = None  # retrying / deferred: when it is due again
    unknown: bool = False  # one more hand-over of unknown outcome


# recipient statuses a delivery result may change (a removed recipient stays removed)
_FOLLOWING = {
    DeliveryKind.EMAIL: (RecipientStatus.QUEUED, RecipientStatus.RETRYING),
    DeliveryKind.PUSH: (RecipientStatus.QUEUED, RecipientStatus.RETRYING),
    DeliveryKind.PUBLISH: (RecipientStatus.ASSIGNED, RecipientStatus.QUEUED, RecipientStatus.RETRYING),
}


def record(results: list[Result], now: datetime, guard: Guard) -> dict[DeliveryState, int]:
    """Write `results` in one transaction (the caller's, if one is open); counts by state
    of what was written (rows that moved on are left as they are)."""
    written: dict[DeliveryState, int] = {}
    if not results:
        return written
    with write_transaction():
        for r in results:  # small groups: one statement a row is fine and keeps guards exact
            if _write(r, now, guard):
                written[r.state] = written.get(r.state, 0) + 1
                _follow(r, now)
    return written


def _write(r: Result, now: datetime, guard: Guard) -> bool:
    c = r.claimed
    values: dict = {
        Delivery.status: r.state.value,
        Delivery.claimed_by: None,
        Delivery.claim_token: None,
        Delivery.lease_until: None,
        Delivery.handed_at: None,  # whatever happened is known now: not in flight
    }
    if r.state == DeliveryState.SENT:
        values.update({Delivery.sent_at: now, Delivery.error_code: "", Delivery.last_error: ""})
    else:
        values.update({Delivery.error_code: r.code, Delivery.last_error: r.detail})
    if r.due_at is not None:
        values[Delivery.due_at] = r.due_at
    if r.unknown:
        values[Delivery.outcomes_unknown] = Delivery.outcomes_unknown + 1
    q = Delivery.update(values).where(Delivery.id == c.id)
    if guard is Guard.CLAIM:
        q = q.where(Delivery.claim_token == c.token, Delivery.status == DeliveryState.SENDING)
        if not c.orphaned:
            q = q.where(Delivery.handed_at.is_null(True))
    elif r.state == DeliveryState.SENT:
        q = q.where(Delivery.handed_token == c.token, Delivery.sent_at.is_null(True))
    else:
        q = q.where(
            Delivery.handed_token == c.token,
            Delivery.claim_token == c.token,
            Delivery.status == DeliveryState.SENDING,
        )
    return bool(q.execute())


def _follow(r: Result, now: datetime) -> None:
    c = r.claimed
    if r.state == DeliveryState.FAILED and c.kind == DeliveryKind.EMAIL:
        # an invitation whose email never went is not an invitation (the funnel counts them)
        if not r.unknown:
            Invitation.delete().where(Invitation.delivery == c.id).execute()
    if c.recipient_id is None or c.kind not in _FOLLOWING:
        return
    allowed = _FOLLOWING[c.kind]
    rid = c.recipient_id
    if r.state == DeliveryState.SENT:
        if c.kind == DeliveryKind.PUBLISH:
            return
        Recipient.update(sent_at=now).where(Recipient.id == rid, Recipient.sent_at.is_null(True)).execute()
        Recipient.update(status=RecipientStatus.SENT, reason_code="", reason="", next_attempt_at=None).where(
            Recipient.id == rid, Recipient.status.in_(allowed)
        ).execute()
    elif r.state == DeliveryState.RETRYING:
        if c.kind == DeliveryKind.PUBLISH:
            return  # still 'assigned' (or queued): the feed is the gateway's business
        Recipient.update(
            status=RecipientStatus.RETRYING, next_attempt_at=r.due_at, reason_code=r.code, reason=r.detail
        ).where(Recipient.id == rid, Recipient.status.in_(allowed)).execute()
    elif r.state in (DeliveryState.FAILED, DeliveryState.SKIPPED):
        values: dict = {
            Recipient.status: RecipientStatus.FAILED if r.state == DeliveryState.FAILED else RecipientStatus.SKIPPED,
            Recipient.reason_code: r.code,
            Recipient.reason: r.detail,
            Recipient.next_attempt_at: None,
        }
        if c.kind == DeliveryKind.PUBLISH:
            values[Recipient.in_feed] = False
        Recipient.update(values).where(Recipient.id == rid, Recipient.status.in_(allowed)).execute()
    elif r.state == DeliveryState.PENDING and r.due_at is not None:
        # deferred (sending hours, a window that moved): the recipient waits with it
        Recipient.update(next_attempt_at=r.due_at).where(
            Recipient.id == rid, Recipient.status.in_(allowed), Recipient.status != RecipientStatus.ASSIGNED
        ).execute()


__all__ = ["Guard", "Result", "record"]
