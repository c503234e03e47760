"""A pass's answers written: in batches, guarded by hand-over token, counted and logged.

The answers of calls that went out are written by whichever transaction comes first:
the hand-over of a worker's next job (core.delivery.pipeline) or, when there is none,
`Recorder.record`, which gathers the answers of every worker that finished meanwhile
into one transaction. The same transaction notes what the answers say about the
channels (core.channel_health): a pause, or a success on a channel with a problem on
record. A database that is away is waited for — the sends went out — up to a lease and
a half past its first failure; then the results are lost, and their rows are found
again as orphans by the next claim (core.delivery.retry).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from core import channel_health
from core.config.types import Config
from core.db import joined_transaction
from core.delivery.logfmt import event
from core.delivery.results import Guard, Result, record
from core.enums import DeliveryState


class Owner(Protocol):
    """What a Recorder uses of its dispatcher (the pass's `Runner` is one)."""

    config: Config
    name: str
    clock: Callable[[], datetime]
    log: logging.Logger
    stop_deadline: float

    @property
    def stopping(self) -> bool: ...

    def db(self, fn: Callable[..., Any], *args: Any) -> Awaitable[Any]: ...

    def log_results(self, results: list[Result]) -> None: ...


class Figures(Protocol):
    """The pass's figures a Recorder counts into (core.delivery.pipeline.PassStats)."""

    def add(self, state: DeliveryState, n: int = 1) -> None: ...


class Recorder:
    """The answers of one pass. `paused` and `troubled` are the channels as last read
    (by the pass's claim) or answered (by `write`)."""

    def __init__(self, runner: Owner, stats: Figures, fail: Callable[[BaseException], None]):
        self.d = runner
        self.stats = stats
        self.fail = fail  # the pass ends with this error once its calls in flight are done
        self.waiting: list[tuple[list[Result], asyncio.Future]] = []
        self.task: asyncio.Task | None = None
        self.paused: set[str] = set()  # channels paused (core.channel_health), as last read or answered
        self.troubled: set[str] = set()  # channels with a problem on record: a success clears it

    def read_channels(self, now) -> None:
        """The channels' problems on record, read again (database thread)."""
        troubled = {p.channel: p for p in channel_health.problems()}
        self.troubled = set(troubled)
        self.paused = {c for c, p in troubled.items() if p.until > now}

    async def record(self, results: list[Result]) -> None:
        """Write these results (with whatever other workers finished meanwhile) and return
        once they are committed, or given up on (see the module's docstring)."""
        fut = asyncio.get_running_loop().create_future()
        self.waiting.append((results, fut))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._record_all())
        await fut

    async def _record_all(self) -> None:
        t = self.d
        give_up = None
        while self.waiting:
            batch, self.waiting = self.waiting, []
            results = [r for rs, _ in batch for r in rs]
            try:
                written, changes = await t.db(self.write, results, t.clock())
            except Exception as e:  # noqa: BLE001 - keep them and try again: they are sends that went out
                give_up = give_up or time.monotonic() + 1.5 * t.config.scheduler.lease_seconds
                if time.monotonic() > give_up or (t.stopping and time.monotonic() > t.stop_deadline):
                    event(t.log, logging.ERROR, "results_lost", count=len(results), error=e)
                    self.fail(e)
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
                    continue
                self.waiting = batch + self.waiting
                await asyncio.sleep(0.5)
                continue
            give_up = None
            self.settled(results, written, changes)
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    def write(self, results: list[Result], now) -> tuple[dict, list]:
        """Record the answers and, in the same transaction, what they say about the
        channels (a pause; a success on a channel with a problem on record). Database
        thread; joins the caller's transaction when there is one."""
        pauses = [
            (channel_health.channel_of(r.claimed.kind), r.problem, r.detail, r.due_at or now)
            for r in results
            if r.problem
        ]
        succeeded = (
            {channel_health.channel_of(r.claimed.kind) for r in results if r.state == DeliveryState.SENT}
            & self.troubled
            if self.troubled  # no channel with a problem on record (the rule): nothing to look for a row
            else set()
        )
        if not pauses and not succeeded:
            return record(results, now, Guard.HANDOVER), []
        with joined_transaction():
            written = record(results, now, Guard.HANDOVER)
            changes = channel_health.note(pauses, succeeded, now, self.d.name)
        for c in changes:
            if c.what == "resumed":
                self.troubled.discard(c.problem.channel)
            else:
                self.troubled.add(c.problem.channel)
                self.paused.add(c.problem.channel)
        return written, changes

    def settled(self, results: list[Result], written: dict | None, changes: list) -> None:
        """Results committed: counted in the pass's figures, logged, and the channels'
        changes they made logged."""
        self.count(results, written)
        self.d.log_results(results)
        self._log_changes(changes)

    def count(self, results: list[Result], written: dict | None = None) -> None:
        """Into the pass's figures: `written` (state → rows, as the database wrote them)
        when given, else each result's own state."""
        if written is None:
            for r in results:
                self.stats.add(r.state)
        else:
            for state, n in written.items():
                self.stats.add(state, n)

    def _log_changes(self, changes: list) -> None:
        log_channel_changes(self.d.log, changes, self.d.config, self.d.clock())


def log_channel_changes(logger: logging.Logger, changes: list, config: Config, now: datetime) -> None:
    """`event=channel_paused` (a warning), `channel_still_paused` or `channel_resumed`, one
    line each, with the words staff read (core.channel_health.describe)."""
    for c in changes:
        p = c.problem
        level = logging.INFO if c.what != "paused" else logging.WARNING
        event(
            logger,
            level,
            f"channel_{c.what}",
            channel=p.channel,
            problem=p.problem,
            since=p.since,
            until=p.until if c.what != "resumed" else None,
            message=channel_health.describe(p, config, now),
            error=p.detail or None,
        )
