"""Glue between the app and the embedded scheduler (core.scheduling.scheduler); no rule lives here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.context import Ctx
from core.i18n import _

if TYPE_CHECKING:
    from core.scheduling.embedded import EmbeddedScheduler


def start_scheduler(ctx: Ctx, wanted: bool | None) -> tuple[EmbeddedScheduler | None, tuple[str, str]]:
    """(EmbeddedScheduler or None, its state in words: state_text's). Runs in a thread worker.

    `wanted` False: never in this session (tests, snapshots); None: as the config says."""
    if wanted is False:
        return None, (_("off in this session"),) * 2
    from core.scheduling.embedded import EmbeddedScheduler

    scheduler = EmbeddedScheduler(ctx.config, clock=ctx.clock)
    if not scheduler.start():  # "never", or this user cannot read the secrets
        return None, state_text(ctx, None)
    return scheduler, state_text(ctx, scheduler)


def state_text(ctx: Ctx, scheduler: EmbeddedScheduler | None) -> tuple[str, str]:
    """Who sends, in core.status's words (a daemon, this session, or nobody and why):
    (in full, in short for a narrow status line)."""
    from core.status import sending_line

    now = ctx.now()
    return sending_line(ctx.config, now, scheduler), sending_line(ctx.config, now, scheduler, short=True)


def stop_scheduler(scheduler: EmbeddedScheduler | None) -> None:
    if scheduler is not None:
        scheduler.stop()
