"""One dispatcher pass: claim → prepare → hand over → send → record, until nothing is due.

Everything runs on the pass's event loop; every database call goes to the one database
thread (`Runner.db`), in this order of arrival:

- `claim`: a few rows at a time — for email `CLAIM_AHEAD` calls per connection, claimed
  again once half of them went (one claim for several emails), for the gateway a
  request's worth — so that a dispatcher never sits on more than it can start soon,
  and a second dispatcher finds work;
- `prepare` (same call): the campaigns and templates the rows need; an email whose
  earlier hand-over left no result (its dispatcher died) has an unknown outcome and
  goes to the retry policy instead of out at once;
- workers (`[email] concurrency` for email, `[gateway] concurrency` for the gateway)
  take one job each, **hand it over** (core.delivery.handover: checks at the moment of
  sending, one fresh read for every job of the transaction) and make the call;
- each answer is **recorded** in the transaction that hands the worker's next job over
  (core.delivery.joining: workers that free up together share one, and an SMTP
  connection's waits a moment for the others' answers about to come): a gateway
  worker's before its next request; an SMTP connection's while its next email is being
  sent — that transaction hands the email after it over and is over before that one
  goes — so the database thread and the SMTP senders overlap. A crash leaves
  unrecorded at most two emails a connection (the one in flight, the one whose answer
  was being written), and gateway requests whose idempotency keys make them safe to
  repeat;
- answers are written, counted and logged by core.delivery.recording (a `Recorder` a
  pass); leases are kept by core.delivery.lease while the pass works; claimed rows
  become jobs in core.delivery.prepare;
- a channel paused (core.channel_health: its server refuses the clinic's setup, or asks
  to slow down) is not claimed until it is tried again; an answer that pauses it is
  recorded with the results, and the jobs of that channel not yet started are released.

A stop (`Dispatcher.request_stop`) ends claiming; jobs not started are released at
once; calls in flight get the grace period, then the pass ends and their rows are left
to their leases (and to the retry policy's unknown-outcome rule for emails).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
from dataclasses import dataclass, fields
from typing import Protocol

from core import channel_health, pace
from core.delivery.joining import HandOvers
from core.delivery.kinds import Handler, Job
from core.delivery.lease import keep_leases
from core.delivery.logfmt import event
from core.delivery.prepare import prepare
from core.delivery.recording import Owner, Recorder
from core.delivery.results import Result
from core.delivery.retry import Policy
from core.delivery.store import Claimed, adopt, claim, release
from core.enums import DeliveryKind, DeliveryState

CLAIM_AHEAD = 16  # emails claimed ahead, per SMTP connection
GATEWAY_CLAIM = 1000  # gateway rows a claim takes (two requests of 500)
# seconds a kind of delivery is not looked for again (its claim scans every due row) after
# a claim found none of it: emails while the gateway had work, or gateway rows at all
RECHECK = 0.5
GATEWAY_KINDS = tuple(k for k in DeliveryKind if not k.by_email)
EMAIL_KINDS = tuple(k for k in DeliveryKind if k.by_email)


@dataclass
class PassStats:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    deferred: int = 0
    released: int = 0
    seconds: float = 0.0

    def add(self, state: DeliveryState, n: int = 1) -> None:
        name = {DeliveryState.PENDING: "deferred"}.get(state, str(state))
        setattr(self, name, getattr(self, name) + n)

    def merge(self, other: PassStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.cancelled

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Runner(Owner, Protocol):
    """What a pass uses of its dispatcher (core.delivery.dispatcher.Dispatcher): what its
    Recorder uses (core.delivery.recording.Owner), and this."""

    policy: Policy

    @property
    def mail_concurrency(self) -> int: ...

    @property
    def gateway_concurrency(self) -> int: ...

    def handler(self, kind: DeliveryKind) -> Handler: ...


class Pass:
    def __init__(self, dispatcher: Runner):
        self.d = dispatcher
        self.stats = PassStats()
        self.queues: dict[bool, asyncio.Queue[Job | None]] = {False: asyncio.Queue(), True: asyncio.Queue()}
        self.busy = {False: 0, True: 0}  # jobs being handed over or sent, by is-email
        self.changed = asyncio.Event()  # a job finished: maybe claim more, maybe done
        self.failure: BaseException | None = None
        self.rec = Recorder(dispatcher, self.stats, self._fail)  # answers written, counted, logged
        self.handovers = HandOvers(dispatcher, self.rec)  # asked by the workers, joined in transactions
        # by is-email: the claim found none of that kind; not looked for again before this
        # (time.monotonic), so that each email's claim does not scan for pushes too (RECHECK)
        self.rests = {True: 0.0, False: 0.0}

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> PassStats:
        t = self.d
        workers = [asyncio.ensure_future(self._mail_worker()) for _ in range(t.mail_concurrency)]
        workers += [asyncio.ensure_future(self._worker(False)) for _ in range(t.gateway_concurrency)]
        renewer = asyncio.ensure_future(keep_leases(t))
        try:
            await t.db(adopt, t.name, t.clock())
            await self._claim_loop()
            await self._drain(workers)
        finally:
            renewer.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, renewer, return_exceptions=True)
            await self._release_queued()
        if self.failure is not None:
            raise self.failure
        return self.stats

    async def _claim_loop(self) -> None:
        t = self.d
        while not t.stopping and self.failure is None:
            # emails are claimed a few calls' worth at a time (one claim for several emails),
            # once half of what was claimed ahead has gone
            want_mail = CLAIM_AHEAD * t.mail_concurrency - self.queues[True].qsize() - self.busy[True]
            now = time.monotonic()
            mail_rests, gw_rests = now < self.rests[True], now < self.rests[False]
            if want_mail < CLAIM_AHEAD * t.mail_concurrency // 2 or mail_rests:
                want_mail = 0
            want_gw = 2 * t.gateway_concurrency - self.queues[False].qsize() - self.busy[False] > 0 and not gw_rests
            if want_mail > 0 or want_gw:
                try:
                    jobs, n = await t.db(self._claim_and_prepare, max(want_mail, 0), want_gw)
                except Exception as e:  # noqa: BLE001 - the database went away: finish what is in flight
                    self.failure = e
                    return
                self.stats.claimed += n
                for job in jobs:
                    self.queues[job.by_email].put_nowait(job)
                if n:
                    continue
            if self._idle():
                if mail_rests or gw_rests:  # look for both once more before ending
                    self.rests = {True: 0.0, False: 0.0}
                    continue
                return  # nothing due, nothing in flight (results are recorded before a worker is free)
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.25)
            except TimeoutError:
                pass

    def _fail(self, e: BaseException) -> None:
        self.failure = self.failure or e  # the first error ends the pass, once what is in flight is done

    def _held(self, job: Job) -> bool:
        """`job`'s channel is paused (core.channel_health, as its Recorder last read or was
        answered): the job waits with it."""
        return channel_health.channel_of(job.handler.kind) in self.rec.paused

    def _idle(self) -> bool:
        return not any(self.busy.values()) and all(q.empty() for q in self.queues.values())

    async def _drain(self, workers) -> None:
        """After the last claim: let queued jobs and calls in flight finish (a stop: only
        those in flight, within the grace period)."""
        t = self.d
        while not self._idle():
            if t.stopping:
                await self._release_queued()
                left = t.stop_deadline - time.monotonic()
                if left <= 0:
                    event(t.log, logging.WARNING, "abandoned", in_flight=sum(self.busy.values()))
                    return
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.25)
            except TimeoutError:
                pass

    async def _release_queued(self) -> None:
        rows: list[Claimed] = []
        for q in self.queues.values():
            while not q.empty():
                job = q.get_nowait()
                if job is not None:
                    rows += job.rows
        if rows:
            try:
                self.stats.released += await self.d.db(release, rows)
            except Exception as e:  # noqa: BLE001 - the database is gone: the leases will expire
                event(self.d.log, logging.WARNING, "release_failed", error=e)

    # --- workers --------------------------------------------------------------------------

    async def _worker(self, mail: bool) -> None:
        q = self.queues[mail]
        while True:
            job = await q.get()
            if job is None:
                return
            self.busy[mail] += 1
            answers: list[Result] = []  # the last call's, recorded with the next hand-over
            try:
                while job is not None:
                    if self.d.stopping:
                        q.put_nowait(job)  # given back by _release_queued
                        return
                    if self._held(job):
                        self.stats.released += await self.d.db(release, job.rows)  # waits with its channel
                    else:
                        last, answers = answers, []  # recorded by the hand-over (or by _one when it fails)
                        answers = await self._one(job, last)
                    job = None if q.empty() else q.get_nowait()
            finally:
                if answers:  # nothing to hand over next: recorded on their own
                    await self.rec.record(answers)
                self.busy[mail] -= 1
                self.changed.set()

    async def _mail_worker(self) -> None:
        """One SMTP connection's worker. While an email is sent, one transaction records
        the answer of the email before it and hands the next one over, which is then
        queued for the mail threads: it starts the moment the current one is answered.
        So the database thread and the SMTP senders overlap, and an answer is written
        before the email after next starts — a crash leaves unrecorded at most two
        emails a connection (the one in flight, the one whose answer was being written).
        An email handed over is sent even after a stop or a pause (its checks passed)."""
        q = self.queues[True]
        while True:
            job = await q.get()
            if job is None:
                return
            if self.d.stopping:
                q.put_nowait(job)  # given back by _release_queued
                return
            self.busy[True] += 1
            answers: list[Result] = []  # the last email's, not recorded yet
            sending: asyncio.Future | None = None
            following: asyncio.Future | None = None
            try:
                job = await self._first_handed(job, q)
                sending = asyncio.ensure_future(self._send(job)) if job is not None else None
                while sending is not None:
                    nxt = self._next_mail(q)
                    if nxt is not None:
                        if await self._hand_over_or_fail(nxt, answers, ahead=True):
                            if not nxt.handed:  # every row of it skipped, cancelled or deferred
                                nxt = await self._first_handed(None if q.empty() else q.get_nowait(), q)
                            if nxt is not None:
                                following = asyncio.ensure_future(self._send(nxt))
                        answers = []  # recorded with the hand-over (or on their own when it failed)
                    elif answers:
                        await self.rec.record(answers)
                        answers = []
                    with self.handovers.answer_coming(following is not None):
                        answers = await sending
                    sending, following = following, None
                    if sending is None and not self.failure and not q.empty():
                        # none was ready during that send: this answer first, then the next
                        await self.rec.record(answers)
                        answers = []
                        nxt = await self._first_handed(q.get_nowait(), q)
                        sending = asyncio.ensure_future(self._send(nxt)) if nxt is not None else None
            finally:
                for f in (sending, following):
                    if f is not None and not f.done():
                        f.cancel()  # a cancelled pass: the mail thread finishes it, its row is left to its lease
                if answers:
                    await self.rec.record(answers)
                self.busy[True] -= 1
                self.changed.set()

    def _next_mail(self, q: asyncio.Queue) -> Job | None:
        """The next email to hand over ahead: none when stopping or its channel is paused
        (it is then given back or released in turn by `_first_handed`)."""
        if q.empty() or self.d.stopping:
            return None
        job = q.get_nowait()
        if job is not None and self._held(job):
            q.put_nowait(job)
            return None
        self.changed.set()  # the claim loop looks: half of what was claimed ahead gone, it claims more
        return job

    async def _first_handed(self, job: Job | None, q: asyncio.Queue) -> Job | None:
        """`job`, or the first job after it, handed over (nothing to record with it);
        None when there is none, when stopping (given back) or when the database failed."""
        while job is not None:
            if self.d.stopping:
                q.put_nowait(job)  # given back by _release_queued
                return None
            if self._held(job):
                self.stats.released += await self.d.db(release, job.rows)  # waits with its channel
            elif not await self._hand_over_or_fail(job, []):
                return None
            elif job.handed:
                return job
            job = None if q.empty() else q.get_nowait()
        return None

    async def _one(self, job: Job, answers: list[Result]) -> list[Result]:
        """Hand `job` over (recording `answers`, the worker's last, in the same
        transaction) and send it; its own answers, not recorded yet."""
        if not await self._hand_over_or_fail(job, answers) or not job.handed:
            return []
        return await self._send(job)

    async def _hand_over_or_fail(self, job: Job, answers: list[Result], ahead: bool = False) -> bool:
        """Hand `job` over (recording `answers` in the same transaction); False when the
        database failed (the rows wait for their lease; the pass ends)."""
        try:
            await self.handovers.ask(job, answers, ahead)
        except Exception as e:  # noqa: BLE001 - not handed over: the rows wait for their lease
            if answers:
                await self.rec.record(answers)  # the transaction that held them was rolled back
            self._fail(e)
            return False
        return True

    async def _send(self, job: Job) -> list[Result]:
        """The transport call of a job handed over; its answers, not recorded yet."""
        try:
            return await job.handler.send(job)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a transport bug must not lose the rows
            from core.channels import Outcome
            from core.reasons import Reason

            # where it broke (a bug of ours or of a library), for whoever reads the journal:
            # the message alone (« list index out of range ») named no line
            tb = traceback.extract_tb(e.__traceback__)
            at = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else ""
            event(self.d.log, logging.ERROR, "send_error", kind=job.handler.kind, error=e, at=at)
            results = job.handler.results(job, Outcome.retry(f"{type(e).__name__}: {e}"))
            for r in results:
                r.code = Reason.INTERNAL if r.state != DeliveryState.SENT else r.code
            return results

    # --- claim and prepare (database thread) ---------------------------------------------

    def _claim_and_prepare(self, mail_limit: int, gateway: bool, any_kind: bool = False) -> tuple[list[Job], int]:
        t = self.d
        now, lease = t.clock(), t.config.scheduler.lease_seconds
        self.rec.read_channels(now)
        if channel_health.EMAIL in self.rec.paused:
            mail_limit = 0
        elif mail_limit > 0:
            slots = pace.free(t.config.email, now)  # the relay's pace: no more than it takes now
            mail_limit = mail_limit if slots is None else min(mail_limit, slots)
        if channel_health.GATEWAY in self.rec.paused:
            gateway = False
        claimed: list[Claimed] = []
        if any_kind:
            claimed = claim(t.name, now, lease, 1)
        else:
            if mail_limit > 0:
                claimed += claim(t.name, now, lease, mail_limit, EMAIL_KINDS)
            if gateway:
                got = claim(t.name, now, lease, GATEWAY_CLAIM, GATEWAY_KINDS)
                if mail_limit > 0 and not claimed and got:
                    self.rests[True] = time.monotonic() + RECHECK
                if not got:
                    self.rests[False] = time.monotonic() + RECHECK
                claimed += got
        if not claimed:
            return [], 0
        try:
            jobs, written = prepare(t, claimed, now)
        except Exception:
            release(claimed)  # give the rows back at once rather than leave them to the lease
            raise
        self.rec.count([], written)
        return jobs, len(claimed)
