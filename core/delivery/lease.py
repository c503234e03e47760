"""A dispatcher's leases kept while it works: every third of a lease, the lease of every
row it holds is extended (core.delivery.store.renew), so a slow server never lets a
lease run out under a row being worked on. A renewal that fails is tried again at the
next third; the leases left run out, and the rows are claimable again, as after a crash."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from core.config.types import Config
from core.delivery.logfmt import event
from core.delivery.store import renew


class Holder(Protocol):
    config: Config
    name: str
    clock: Callable[[], datetime]
    log: logging.Logger

    def db(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]: ...


async def keep_leases(d: Holder) -> None:
    """Renew `d`'s leases until cancelled (the end of its pass)."""
    lease = d.config.scheduler.lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await d.db(renew, d.name, d.clock(), lease)
        except Exception as e:  # noqa: BLE001 - the next renewal tries again
            event(d.log, logging.WARNING, "renew_failed", error=e)
