"""The audit log: who did what, when (SPEC §6). Written inside the action's transaction."""

from __future__ import annotations

import json

from core.models import AuditLog


def record(ctx, action: str, campaign_id: int | None = None, **detail) -> None:
    AuditLog.create(
        at=ctx.now(),
        user=ctx.user.login,
        action=action,
        campaign=campaign_id,
        detail=json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True),
    )
