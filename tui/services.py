"""Glue between the app and the embedded scheduler (core.scheduler); no rule lives here."""

from __future__ import annotations

from core.context import Ctx


def start_scheduler(ctx: Ctx, wanted: bool | None):
    """(EmbeddedScheduler or None, one-line state). Runs in a thread worker.

    `wanted` False: never in this session (tests, snapshots); None: as the config says."""
    if wanted is False:
        return None, "off in this session"
    from core.scheduler import EmbeddedScheduler

    scheduler = EmbeddedScheduler(ctx.config, clock=ctx.clock)
    if not scheduler.start():
        return None, state_text(ctx, None)
    return scheduler, state_text(ctx, scheduler)


def state_text(ctx: Ctx, scheduler) -> str:
    """What the status line says about sending: embedded and running, standing by for a
    daemon, a daemon's heartbeat, or nobody sending."""
    if scheduler is not None:
        state = scheduler.state()
        return "embedded, running" if state == "running" else f"embedded, {state}"
    from core.scheduler import live_daemons

    daemons = live_daemons(ctx.config, ctx.now())
    if daemons:
        return f"daemon {daemons[0].name} (heartbeat)"
    return "off: no daemon is running, deliveries wait"


def stop_scheduler(scheduler) -> None:
    if scheduler is not None:
        scheduler.stop()
