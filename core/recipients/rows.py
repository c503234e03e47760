"""Writing outbox rows: every outside effect of an action is a delivery row written in
the action's own transaction (SPEC §5), set-based whatever the number of recipients."""

from __future__ import annotations

from datetime import datetime

import peewee as pw

from core.db import sql_uuid
from core.enums import DeliveryKind, DeliveryState
from core.models import Campaign, Delivery, Recipient


def insert_deliveries(kind: DeliveryKind, c: Campaign, recipients: pw.Select, due_at: datetime, now: datetime) -> None:
    """One delivery of `kind` per recipient id selected by `recipients`, in one statement."""
    q = Recipient.select(
        pw.Value(kind.value),
        pw.Value(c.id),
        Recipient.id,
        sql_uuid(),
        pw.Value(DeliveryState.PENDING.value),
        pw.Value(due_at),
        pw.Value(0),
        pw.Value(now),
        pw.Value(c.content_version),
        pw.Value(""),
    ).where(Recipient.id.in_(recipients))
    columns = [
        Delivery.kind,
        Delivery.campaign,
        Delivery.recipient,
        Delivery.idempotency_key,
        Delivery.status,
        Delivery.due_at,
        Delivery.attempts,
        Delivery.created_at,
        Delivery.content_version,
        Delivery.last_error,
    ]
    Delivery.insert_from(q, columns).returning().execute()


def ensure_put(c: Campaign, now: datetime) -> None:
    """A `put` of the campaign's current content, unless one is open or went out."""
    current = Delivery.select().where(
        Delivery.campaign == c,
        Delivery.kind == DeliveryKind.PUT,
        Delivery.content_version == c.content_version,
        Delivery.status != DeliveryState.FAILED,
        Delivery.status != DeliveryState.CANCELLED,
    )
    if not current.exists():
        campaign_row(DeliveryKind.PUT, c, now)


def campaign_row(kind: DeliveryKind, c: Campaign, now: datetime) -> Delivery:
    """A delivery about the whole campaign (put, expire)."""
    return Delivery.create(kind=kind, campaign=c, due_at=now, created_at=now, content_version=c.content_version)
