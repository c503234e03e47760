"""Outbox retention (issue #21, Law 25: keep no more than needed): the daemon deletes
finished delivery rows older than `[database] keep_deliveries_days` (default 90), a
small batch a transaction, so senders never wait behind it.

A row is deleted only when nothing still needs it:
- it is finished (sent, failed, skipped, cancelled) — an open row is a send or a retry
  under way — and every time on it (created, due, handed over, sent) is older than the
  cut-off;
- it is not a campaign's `put` or `expire` (few rows, and the proof that the broadcast's
  current content went out: without it a new `put` would be queued, core.recipients.rows).
An invitation email goes like the others: its invitation stays (the patient's code, link
and expiry), its `delivery` emptied and its `sent_at` kept — all the funnel read from the
row (schema 8) — in the transaction that deletes the row.
A recipient's status, dates and reason live on the recipient row, and the audit in its
own table: neither reads the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import peewee as pw

from core.db import is_postgres, write_transaction
from core.enums import FINISHED, DeliveryKind, DeliveryState
from core.models import Delivery, Invitation

BATCH = 500  # rows a transaction
MAX_BATCHES = 20  # a run deletes at most BATCH x MAX_BATCHES rows; the next run goes on


def expired(now: datetime, keep_days: int) -> pw.Expression:
    """The delivery rows retention may delete at `now`."""
    cutoff = now - timedelta(days=keep_days)
    return (
        Delivery.status.in_(FINISHED)
        & Delivery.kind.not_in((DeliveryKind.PUT, DeliveryKind.EXPIRE))
        & (Delivery.due_at < cutoff)
        & (Delivery.created_at < cutoff)
        & (Delivery.handed_at.is_null(True) | (Delivery.handed_at < cutoff))
        & (Delivery.sent_at.is_null(True) | (Delivery.sent_at < cutoff))
    )


def prune(now: datetime, keep_days: int, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Delete up to `batch` x `max_batches` expired rows, `batch` a transaction; the
    number deleted (fewer than the most means none is left)."""
    deleted = 0
    for _ in range(max_batches):
        with write_transaction():
            # the conditions are checked again by the DELETE itself: nothing decided in
            # one statement is acted on in another
            q = Delivery.select(Delivery.id).where(expired(now, keep_days)).limit(batch)
            if is_postgres():  # no send may take one of them back meanwhile (SQLite: the write lock)
                q = q.for_update()
            ids = [i for (i,) in q.tuples()]
            if not ids:
                break
            # the invitations these emails carried stay, with the one fact read from them
            went = Delivery.select(Delivery.sent_at).where(
                Delivery.id == Invitation.delivery, Delivery.status == DeliveryState.SENT
            )
            Invitation.update(sent_at=pw.fn.COALESCE(Invitation.sent_at, went), delivery=None).where(
                Invitation.delivery.in_(ids)
            ).execute()
            n = Delivery.delete().where(Delivery.id.in_(ids), expired(now, keep_days)).execute()
        deleted += n
        if n < batch:
            break
    return deleted


def outbox_size() -> int:
    """How many delivery rows the outbox holds (what `clinicast status` shows)."""
    return Delivery.select().count()
