"""A pass's hand-overs joined into transactions (core.delivery.pipeline's workers ask).

Each worker asks for its next job's hand-over with the answers of its last call
(`HandOvers.ask`); one task runs what was asked on the database thread, as one
transaction that records those answers (core.delivery.recording) and hands the jobs
over (core.delivery.handover): workers that free up together share it. An SMTP
connection asks the moment its answer arrives, while its next email is being sent, so
before such a hand-over the task waits a moment (`HANDOVER_JOIN`) for the connections
whose answer is about to come (`answer_coming`): one fresh read and one commit serve
them all, instead of a transaction each in a row. A connection's first email, or a
gateway request, is handed over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from core.db import write_transaction
from core.delivery.handover import hand_over
from core.delivery.kinds import Job
from core.delivery.recording import Owner, Recorder
from core.delivery.results import Result

# seconds an email's hand-over waits for the other SMTP connections': on PostgreSQL a
# transaction's commit and fresh read cost more than a loopback send
HANDOVER_JOIN = 0.010


class HandOvers:
    """The hand-overs one pass's workers ask for, and the task that runs them."""

    def __init__(self, runner: Owner, rec: Recorder) -> None:
        self.d = runner
        self.rec = rec
        # (job, the answers to record with it, its future, whether it goes after a send in flight)
        self.wanted: list[tuple[Job, list[Result], asyncio.Future, bool]] = []
        self.task: asyncio.Task | None = None
        self.answering = 0  # mail workers waiting for an answer, their next hand-over to follow
        self.asked = asyncio.Event()  # a hand-over was asked for

    @contextlib.contextmanager
    def answer_coming(self, hand_over_follows: bool) -> Iterator[None]:
        """Around a mail worker's wait for its answer: when a hand-over follows it, the
        hand-overs asked meanwhile wait for this one (`_joined`)."""
        self.answering += hand_over_follows
        try:
            yield
        finally:
            self.answering -= hand_over_follows

    async def ask(self, job: Job, answers: list[Result], ahead: bool) -> None:
        """Join the next hand-over transaction, which records `answers` too (one
        transaction a call, not two); `ahead`: `job` goes after a send now in flight."""
        fut = asyncio.get_running_loop().create_future()
        self.wanted.append((job, answers, fut, ahead))
        self.asked.set()
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._all())
        await fut

    async def _all(self) -> None:
        d = self.d
        while self.wanted:
            await self._joined()
            batch, self.wanted = self.wanted, []
            jobs = [j for j, *_ in batch]
            answers = [r for _, rs, *_ in batch for r in rs]
            try:
                immediate, written, changes = await d.db(self._record_and_hand_over, answers, jobs, d.clock())
            except Exception as e:  # noqa: BLE001 - each waiting worker gets the error
                for _, _, fut, _ in batch:
                    if not fut.done():  # a worker cancelled meanwhile
                        fut.set_exception(e)
                continue
            self.rec.settled(immediate, None, [])
            if answers:
                self.rec.settled(answers, written, changes)
            for _, _, fut, _ in batch:
                if not fut.done():
                    fut.set_result(None)

    async def _joined(self) -> None:
        """Before an email's hand-over: wait, `HANDOVER_JOIN` at most, for the SMTP
        connections whose answer is about to come. Only when every email waiting goes
        after one now being sent (`ahead`): the wait then delays no send."""
        # the workers of the transaction just done run first: each asks for its next
        # hand-over at once (its answer came meanwhile) or waits for its answer (counted)
        await asyncio.sleep(0)
        deadline = time.monotonic() + HANDOVER_JOIN
        while self.answering > 0 and all(ahead for *_, ahead in self.wanted):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.asked.clear()
            try:
                await asyncio.wait_for(self.asked.wait(), left)
            except TimeoutError:
                return

    def _record_and_hand_over(self, answers: list[Result], jobs: list[Job], now) -> tuple[list, dict, list]:
        config = self.d.config
        with write_transaction():
            written, changes = self.rec.write(answers, now) if answers else ({}, [])
            immediate = hand_over(jobs, now, config.clinic.app_url, config.scheduler.max_attempts)
        return immediate, written, changes
