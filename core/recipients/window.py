"""A broadcast's feed: publish to recipients while its window is live, expire it when
the window ends (SPEC §4, §5). Run by assign and by the scheduler; every step locks the
campaign it works on, so several schedulers do each piece once."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.campaigns import window_state
from core.campaigns.reads import get_locked
from core.context import Ctx
from core.db import write_transaction
from core.enums import RECIPIENT_WAITING, DeliveryKind, DeliveryState, Kind, RecipientStatus, WindowState
from core.models import Campaign, Delivery, Recipient
from core.reasons import Reason
from core.recipients.rows import campaign_row, ensure_put, insert_deliveries
from core.rules import in_feed


def publish(c: Campaign, now: datetime) -> int:
    """Show a live broadcast to every eligible recipient not yet in the feed (the campaign
    is locked by the caller, so the set does not change between these statements)."""
    waiting = Recipient.select(Recipient.id).where(
        Recipient.campaign == c,
        in_feed(),
        Recipient.in_feed == False,  # noqa: E712
    )
    n = waiting.count()
    if n:
        ensure_put(c, now)
        insert_deliveries(DeliveryKind.PUBLISH, c, waiting, now, now)
        (
            Recipient.update(in_feed=True)
            .where(Recipient.campaign == c, in_feed(), Recipient.in_feed == False)  # noqa: E712
            .execute()
        )
    return n


def _live_broadcasts(ctx: Ctx) -> list[tuple[Campaign, str | None]]:
    """Broadcasts not yet expired whose window may have opened, with their window state."""
    q = Campaign.select().where(
        Campaign.kind == Kind.BROADCAST,
        Campaign.expired_at.is_null(True),
        Campaign.starts_on <= ctx.today() + timedelta(days=1),
    )
    tz = ctx.config.clinic.tz
    return [(c, window_state(c, ctx.now(), tz)) for c in q]


def publish_due(ctx: Ctx) -> int:
    """Publish every live broadcast to recipients assigned before its window opened (idempotent)."""
    n = 0
    for c, state in _live_broadcasts(ctx):
        if state != WindowState.LIVE:
            continue
        with write_transaction():
            c = get_locked(c.id)
            if c.expired_at is not None:
                continue
            now = ctx.now()
            n += publish(c, now)
            if c.published_at is None:
                c.published_at = now
                c.save(only=[Campaign.published_at])
    return n


def expire_due(ctx: Ctx) -> int:
    """Remove ended broadcasts from every feed, once; their unsent pushes are dropped."""
    n = 0
    for c, state in _live_broadcasts(ctx):
        if state != WindowState.ENDED:
            continue
        with write_transaction():
            get_locked(c.id)
            now = ctx.now()
            claimed = (
                Campaign.update(expired_at=now).where(Campaign.id == c.id, Campaign.expired_at.is_null(True)).execute()
            )
            if not claimed:
                continue  # another scheduler did it
            # not yet handed to a transport: cancelled (a dispatcher holding one sees it)
            open_ = Delivery.select(Delivery.id).where(
                Delivery.campaign == c,
                Delivery.kind.in_((DeliveryKind.PUSH, DeliveryKind.PUBLISH, DeliveryKind.PUT)),
                Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING))
                | ((Delivery.status == DeliveryState.SENDING) & Delivery.handed_at.is_null(True)),
            )
            pushes = Delivery.select(Delivery.recipient).where(
                Delivery.id.in_(open_), Delivery.kind == DeliveryKind.PUSH
            )
            Recipient.update(
                status=RecipientStatus.SKIPPED, reason_code=Reason.WINDOW_ENDED, reason="", next_attempt_at=None
            ).where(Recipient.id.in_(pushes), Recipient.status.in_(RECIPIENT_WAITING)).execute()
            Delivery.update(
                status=DeliveryState.CANCELLED,
                error_code=Reason.WINDOW_ENDED,
                last_error="",
                claimed_by=None,
                claim_token=None,
                lease_until=None,
            ).where(Delivery.id.in_(open_)).execute()
            if Recipient.select().where(Recipient.campaign == c, Recipient.in_feed == True).exists():  # noqa: E712
                campaign_row(DeliveryKind.EXPIRE, c, now)
                n += 1
    return n
