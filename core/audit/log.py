"""The audit log: who did what, when (SPEC §6). Written inside the action's transaction,
each row chained to the one before (core/audit/chain.py)."""

from __future__ import annotations

import json

from core.audit import chain
from core.models import AuditLog, database


def record(ctx, action: str, campaign_id: int | None = None, **detail) -> None:
    at, user = ctx.now(), ctx.user.login
    campaign = None if campaign_id is None else int(campaign_id)
    text = json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True)
    with database.atomic():  # the action's transaction (a savepoint), or one of its own
        chain.take_turn()
        prev = chain.last_hash()
        AuditLog.create(
            at=at,
            user=user,
            action=action,
            campaign=campaign,
            detail=text,
            prev_hash=prev,
            hash=chain.row_hash(prev, at, user, action, campaign, text),
        )
