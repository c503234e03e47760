"""The dispatcher: claim due deliveries, check them again, send them, record the results.

One `Dispatcher` per process (or per TUI), any number of them on one database. A *pass*
(`run_once`) drains what is due now as a pipeline: the next batch is claimed and
prepared (one database thread) while the previous one is being sent — gateway calls by
`[gateway] concurrency` asyncio workers over the gateway's keep-alive connections;
emails rendered and sent by `[email] concurrency` threads, each with its own reused
SMTP connection — and results are written back in bulk. The first claims of a pass are
small (sending starts at once), later ones a whole publish request's worth (500 rows).
A row claimed but not started before its lease runs short, or when a stop is
requested, is given back untouched (its attempt not counted).

Send-time checks (the directory may have changed since the start): consent rules of
`core.recipients` (skipped with the reason), a recipient removed meanwhile (cancelled),
a broadcast window that has ended (skipped/cancelled) or not opened yet (deferred to its
first moment).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import secrets
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from email.utils import formataddr, parseaddr
from functools import partial
from urllib.parse import quote

from . import outbox, templating
from .campaigns import clinic_values
from .channels import Gateway, Mailer, Outcome, compose, make_gateway, make_mailer
from .config import Config
from .db import write_transaction
from .enums import DeliveryKind, DeliveryState, RecipientStatus
from .models import Campaign, Invitation, Patient, Recipient, Template, database, utcnow
from .outbox import Claimed, Result

log = logging.getLogger("clinicast.dispatch")

INVITATION_DAYS = 14
PUBLISH_BATCH = 500
R_UNKNOWN_APP = "unknown app account"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
_PUBLISH_NS = uuid.UUID("6f1c1c1e-9d0e-4a55-9a43-3f0b7e0c2a11")
_worker_seq = iter(range(1, 1 << 30))


# --- logging: one key=value line per event -------------------------------------------------


def _fmt(v) -> str:
    if isinstance(v, datetime):
        v = v.isoformat(timespec="seconds") + "Z"
    s = str(v)
    if s == "" or any(c in s for c in ' "=\n\t'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


def event(logger: logging.Logger, level: int, what: str, /, **kv) -> None:
    """Log `event=what k=v …` (values quoted when they hold spaces)."""
    if logger.isEnabledFor(level):
        logger.log(level, "event=%s %s", what, " ".join(f"{k}={_fmt(v)}" for k, v in kv.items() if v is not None))


def worker_name(role: str = "") -> str:
    """host:pid (plus a number when one process runs several dispatchers)."""
    n = next(_worker_seq)
    base = f"{socket.gethostname()}:{os.getpid()}"
    return (base + (f":{role}" if role else "") + (f":{n}" if n > 1 else ""))[:120]


# --- what a pass did -------------------------------------------------------------------------


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

    def add(self, state: str, n: int = 1) -> None:
        name = {
            DeliveryState.SENT: "sent",
            DeliveryState.RETRYING: "retrying",
            DeliveryState.FAILED: "failed",
            DeliveryState.SKIPPED: "skipped",
            DeliveryState.CANCELLED: "cancelled",
            DeliveryState.PENDING: "deferred",
        }[state]
        setattr(self, name, getattr(self, name) + n)

    def merge(self, other: PassStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.cancelled

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Job:
    """One call: a gateway request (possibly for several publish rows) or one email."""

    kind: str
    rows: list[Claimed]
    deadline: float  # monotonic: do not start after this
    method: str = ""
    path: str = ""
    body: dict | None = None
    key: str = ""
    app_ids: dict[int, str] = field(default_factory=dict)  # publish: delivery id -> app id
    mail: dict | None = None

    @property
    def is_mail(self) -> bool:
        return self.kind == DeliveryKind.EMAIL


class _DaemonThreadPool(Executor):
    """A fixed pool of daemon threads: a blocked SMTP send never holds up process exit."""

    def __init__(self, workers: int, name: str):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            fut, fn, args = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - handed to the waiting coroutine
                fut.set_exception(e)

    def submit(self, fn, *args):
        fut: Future = Future()
        self._q.put((fut, fn, args))
        return fut

    def shutdown(self, wait: bool = True, **_) -> None:
        for _t in self._threads:
            self._q.put(None)
        if wait:
            for t in self._threads:
                t.join(timeout=5)


# --- the dispatcher --------------------------------------------------------------------------


class Dispatcher:
    """Claims and sends deliveries for one config. Thread-safe: `run_once` may be called
    from any thread (one pass at a time); `request_stop` from any other."""

    def __init__(
        self,
        config: Config,
        *,
        name: str | None = None,
        clock=utcnow,
        mailer: Mailer | None = None,
        gateway: Gateway | None = None,
        rng: random.Random | None = None,
        logger: logging.Logger | None = None,
        batch_size: int | None = None,
        ssl_context=None,
    ):
        self.config = config
        self.name = name or worker_name()
        self.clock = clock
        self.rng = rng or random.Random()
        self.log = logger or log
        self._mailer = mailer
        self._gateway = gateway
        self._ssl_context = ssl_context
        self.batch_size = batch_size
        self._pass_lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_deadline = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db_exec: ThreadPoolExecutor | None = None
        self._mail_exec: _DaemonThreadPool | None = None
        self._closed = False
        self.totals = PassStats()
        self._clinic = clinic_values(config)
        self._envelope_from = parseaddr(config.email.sender)[1] or config.email.sender

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def mailer(self) -> Mailer:
        if self._mailer is None:
            self._mailer = make_mailer(self.config.email, ssl_context=self._ssl_context)
        return self._mailer

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            self._gateway = make_gateway(self.config.gateway)
        return self._gateway

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self, grace: float = 5.0) -> None:
        """Stop claiming; sends under way get `grace` seconds, then what is left is released."""
        self._stop_deadline = time.monotonic() + grace
        self._stop.set()

    def run_once(self) -> PassStats:
        """Drain every delivery due now; returns what was done."""
        return _outside_any_loop(self._run_once)

    def _run_once(self) -> PassStats:
        with self._pass_lock:
            if self._closed or self._stop.is_set():
                return PassStats()
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._db_exec = ThreadPoolExecutor(1, thread_name_prefix="clinicast-db")
            t0 = time.monotonic()
            try:
                stats = self._loop.run_until_complete(self._pass())
            except Exception:
                # a broken connection (database restarted...) is not reused by the next pass
                self._loop.run_until_complete(self._loop.run_in_executor(self._db_exec, _reset_connection))
                raise
            stats.seconds = time.monotonic() - t0
            self.totals.merge(stats)
            if stats.claimed:
                event(
                    self.log,
                    logging.INFO,
                    "pass",
                    worker=self.name,
                    **{k: v for k, v in stats.as_dict().items() if v and k != "seconds"},
                    seconds=f"{stats.seconds:.2f}",
                )
            return stats

    def close(self) -> None:
        """Release anything still claimed, close the transports and the worker threads."""
        _outside_any_loop(self._close)

    def _close(self) -> None:
        with self._pass_lock:
            if self._closed:
                return
            self._closed = True
            if self._loop is not None:
                try:
                    self._loop.run_until_complete(
                        self._loop.run_in_executor(self._db_exec, outbox.release_all, self.name)
                    )
                except Exception as e:  # noqa: BLE001 - the database may be gone; leases expire
                    event(self.log, logging.WARNING, "release_failed", error=e)
                if self._gateway is not None:
                    try:
                        self._loop.run_until_complete(self._gateway.aclose())
                    except Exception:  # noqa: BLE001
                        pass
                try:
                    self._loop.run_until_complete(self._loop.run_in_executor(self._db_exec, database.close))
                except Exception:  # noqa: BLE001
                    pass
                self._loop.close()
                self._db_exec.shutdown(wait=True)
            if self._mailer is not None:
                self._mailer.close()
            if self._mail_exec is not None:
                self._mail_exec.shutdown(wait=False)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- one pass ----------------------------------------------------------------------

    def _db(self, fn, *args):
        return asyncio.get_running_loop().run_in_executor(self._db_exec, fn, *args)

    def _batch(self) -> int:
        """Rows claimed at a time (and kept in flight): a whole publish request's worth."""
        return self.batch_size or PUBLISH_BATCH

    async def _pass(self) -> PassStats:
        """Claim → queue → workers → results, until nothing is due (or a stop)."""
        stats = PassStats()
        loop = asyncio.get_running_loop()
        batch = self._batch()
        queues = {False: asyncio.Queue(), True: asyncio.Queue()}  # is_mail -> jobs to send
        current: dict[asyncio.Task, Job] = {}  # worker -> job being sent
        completed: list[tuple[Job, Outcome | None]] = []
        results: list[Result] = []
        released: list[tuple[list[int], bool]] = []
        wake = asyncio.Event()
        pending_rows = 0  # claimed and not yet completed
        ramp = 100
        failure: BaseException | None = None

        async def worker(mail: bool) -> None:
            me = asyncio.current_task()
            q = queues[mail]
            while True:
                job = await q.get()
                if job is None:
                    return
                if self._stop.is_set() or time.monotonic() > job.deadline:
                    completed.append((job, None))  # not started: given back untouched
                    wake.set()
                    continue
                current[me] = job
                try:
                    if mail:
                        outcome = await loop.run_in_executor(self._mail_pool(), self._send_mail, job)
                    else:
                        outcome = await self.gateway.call(job.method, job.path, job.body, job.key)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - a transport bug must not lose the row
                    event(self.log, logging.ERROR, "send_error", kind=job.kind, error=e)
                    outcome = Outcome.retry(f"internal error: {type(e).__name__}: {e}")
                del current[me]
                completed.append((job, outcome))
                wake.set()

        n_gw = max(1, getattr(self.gateway, "concurrency", 1))
        n_mail = max(1, getattr(self.mailer, "concurrency", 1))
        workers = [asyncio.ensure_future(worker(False)) for _ in range(n_gw)] + [
            asyncio.ensure_future(worker(True)) for _ in range(n_mail)
        ]

        def collect() -> None:
            nonlocal pending_rows
            if not completed:
                return
            now = self.clock()
            done = completed[:]
            completed.clear()
            for job, outcome in done:
                pending_rows -= len(job.rows)
                if outcome is None:
                    released.append(([r.id for r in job.rows], False))
                else:
                    results.extend(self._results_for(job, outcome, now))

        async def flush() -> None:
            nonlocal results, released
            if results:
                batch_results, results = results, []
                written = await self._db(outbox.record, self.name, batch_results, self.clock())
                for state, n in written.items():
                    stats.add(state, n)
                self._log_results(batch_results)
            if released:
                batch_released, released = released, []
                for started in (False, True):
                    ids = [i for rows, st in batch_released if st is started for i in rows]
                    if ids:
                        stats.released += await self._db(partial(outbox.release, self.name, ids, started=started))

        def abandon() -> None:
            """Past the stop's grace: what is still being sent is released as started."""
            nonlocal pending_rows
            for t in workers:
                t.cancel()
            for job in current.values():
                released.append(([r.id for r in job.rows], True))
                pending_rows -= len(job.rows)
            current.clear()
            for q in queues.values():
                while not q.empty():
                    job = q.get_nowait()
                    if job is not None:
                        released.append(([r.id for r in job.rows], False))
                        pending_rows -= len(job.rows)

        try:
            while True:
                got = False
                if failure is None and not self._stop.is_set() and pending_rows < batch:
                    # the first claims are small so that sending starts at once; then whole batches
                    size = min(batch, ramp)
                    ramp *= 2
                    try:
                        jobs, immediate, n = await self._db(self._claim_and_prepare, size)
                    except Exception as e:  # noqa: BLE001 - finish what is in flight, then report
                        failure = e
                        jobs, immediate, n = [], [], 0
                    stats.claimed += n
                    results.extend(immediate)
                    for job in jobs:
                        queues[job.is_mail].put_nowait(job)
                        pending_rows += len(job.rows)
                    got = n > 0
                collect()
                if pending_rows <= 0 and not got:
                    if results or released:
                        await flush()
                        if failure is None and not self._stop.is_set():
                            continue  # a recorded result may make more rows claimable (put → publish)
                    break
                if pending_rows > 0 and (not got or pending_rows >= batch or self._stop.is_set()):
                    timeout = 0.25
                    if self._stop.is_set():
                        left = self._stop_deadline - time.monotonic()
                        if left <= 0:
                            abandon()
                            collect()
                            pending_rows = 0
                            continue
                        timeout = min(timeout, left)
                    if not completed:
                        wake.clear()
                        try:
                            await asyncio.wait_for(wake.wait(), timeout)
                        except TimeoutError:
                            pass
                    collect()
                if len(results) >= batch or (results and pending_rows <= 0):
                    await flush()
            await flush()
        finally:
            for q in queues.values():
                for _ in range(len(workers)):
                    q.put_nowait(None)
            for t in workers:
                if not t.done():
                    t.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        if failure is not None:
            raise failure
        return stats

    def _mail_pool(self) -> _DaemonThreadPool:
        if self._mail_exec is None:
            self._mail_exec = _DaemonThreadPool(max(1, getattr(self.mailer, "concurrency", 1)), "clinicast-mail")
        return self._mail_exec

    def _log_results(self, results: list[Result]) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        for r in results:
            c = r.claimed
            level = (
                logging.INFO
                if r.state
                in (DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.CANCELLED, DeliveryState.PENDING)
                else logging.WARNING
            )
            name = {
                DeliveryState.SENT: "sent",
                DeliveryState.RETRYING: "retry",
                DeliveryState.FAILED: "failed",
                DeliveryState.SKIPPED: "skipped",
                DeliveryState.CANCELLED: "cancelled",
                DeliveryState.PENDING: "deferred",
            }[r.state]
            event(
                self.log,
                level,
                name,
                kind=c.kind,
                delivery=c.id,
                campaign=c.campaign_id,
                recipient=c.recipient_id,
                attempt=c.attempts,
                next=r.due_at,
                error=r.error or None,
            )

    # --- results --------------------------------------------------------------------------

    def _results_for(self, job: Job, outcome: Outcome, now: datetime) -> list[Result]:
        out = []
        if outcome.ok and job.kind == DeliveryKind.PUBLISH:
            unknown = set((outcome.data or {}).get("unknown") or []) if isinstance(outcome.data, dict) else set()
            for row in job.rows:
                if job.app_ids.get(row.id) in unknown:
                    out.append(Result(row, DeliveryState.FAILED, R_UNKNOWN_APP))
                else:
                    out.append(Result(row, DeliveryState.SENT))
            return out
        for row in job.rows:
            out.append(self._result(row, outcome, now))
        return out

    def _result(self, row: Claimed, outcome: Outcome, now: datetime) -> Result:
        if outcome.ok:
            return Result(row, DeliveryState.SENT)
        if outcome.status == "final":
            return Result(row, DeliveryState.FAILED, outcome.error)
        s = self.config.scheduler
        if row.attempts >= s.max_attempts:
            return Result(row, DeliveryState.FAILED, outcome.error)
        delay = outbox.retry_delay(
            row.attempts, outcome.retry_after, s.backoff_base_seconds, s.backoff_max_seconds, self.rng
        )
        return Result(row, DeliveryState.RETRYING, outcome.error, now + timedelta(seconds=delay))

    # --- claim and prepare (database thread) ---------------------------------------------

    def _claim_and_prepare(self, limit: int) -> tuple[list[Job], list[Result], int]:
        now = self.clock()
        s = self.config.scheduler
        claimed = outbox.claim(self.name, now, s.lease_seconds, limit)
        if not claimed:
            return [], [], 0
        # a claimed row must start before its lease runs short (leave room for one timeout)
        timeout = max(self.config.gateway.timeout_seconds, self.config.email.timeout_seconds)
        deadline = time.monotonic() + s.lease_seconds - min(timeout + 1, s.lease_seconds / 2)
        try:
            jobs, results = _Preparer(self, claimed, now, deadline).run()
        except Exception:
            # give the rows back at once rather than leave them to lease expiry
            outbox.release(self.name, [c.id for c in claimed])
            raise
        return jobs, results, len(claimed)

    # --- email (mail threads) ---------------------------------------------------------------

    def _send_mail(self, job: Job) -> Outcome:
        m = job.mail
        try:
            r = templating.render("invitation", m["fields"], m["context"])
        except templating.TemplateRenderError as e:
            return Outcome.final(f"template: {e}")
        try:
            data = compose.build(
                sender=self.config.email.sender,
                to=m["to"],
                subject=r.subject or "",
                text=r.text or "",
                html=r.html or "",
                key=job.key,
                language=m["language"],
                list_unsubscribe=self.config.email.list_unsubscribe,
                date=self.clock().replace(tzinfo=UTC),
            )
        except (UnicodeError, ValueError) as e:
            return Outcome.final(f"cannot build the email: {e}")
        return self.mailer.send(data, self._envelope_from, [m["address"]], job.key)


# --- preparing one claimed batch ------------------------------------------------------------


class _Preparer:
    """Loads what a claimed batch needs in a few queries and turns each row into a Job or
    an immediate Result."""

    def __init__(self, d: Dispatcher, claimed: list[Claimed], now: datetime, deadline: float):
        self.d, self.claimed, self.now, self.deadline = d, claimed, now, deadline
        self.config = d.config
        self.tz = self.config.clinic.tz
        self.jobs: list[Job] = []
        self.results: list[Result] = []
        self._windows: dict[int, tuple[datetime, datetime]] = {}

    def run(self) -> tuple[list[Job], list[Result]]:
        from . import recipients as rmod

        self.rmod = rmod
        rids = sorted({c.recipient_id for c in self.claimed if c.recipient_id})
        self.recipients: dict[int, _Rcpt] = {}
        cols = [
            Recipient.id,
            Recipient.status,
            Recipient.reason,
            Patient.id,
            Patient.first_name,
            Patient.last_name,
            Patient.language,
            Patient.email,
            Patient.app_id,
            Patient.marketing_consent,
            Patient.push_enabled,
            Patient.do_not_contact,
        ]
        for chunk in _chunks(rids):
            for row in Recipient.select(*cols).join(Patient).where(Recipient.id.in_(chunk)).tuples():
                self.recipients[row[0]] = _Rcpt(row[0], row[1], row[2], _Pat(*row[3:]))
        cids = sorted({c.campaign_id for c in self.claimed})
        self.campaigns = {c.id: c for c in Campaign.select().where(Campaign.id.in_(cids))}
        self.templates: dict[int, dict[str, dict[str, str]]] = defaultdict(dict)
        for t in Template.select().where(Template.campaign.in_(cids)):
            self.templates[t.campaign_id][t.language] = {
                "subject": t.subject,
                "title": t.title,
                "body": t.body,
                "push": t.push,
            }
        emails: list[tuple[Claimed, _Rcpt]] = []
        publishes: dict[int, list[tuple[Claimed, _Rcpt]]] = defaultdict(list)
        for c in self.claimed:
            camp = self.campaigns.get(c.campaign_id)
            r = self.recipients.get(c.recipient_id) if c.recipient_id else None
            if camp is None or (c.recipient_id and r is None):
                self.results.append(Result(c, DeliveryState.CANCELLED, "campaign or recipient deleted"))
                continue
            handler = getattr(self, f"_{c.kind}")
            item = handler(c, camp, r)
            if item == "email":
                emails.append((c, r))
            elif item == "publish":
                publishes[camp.id].append((c, r))
        if emails:
            self._emails(emails)
        for cid, rows in publishes.items():
            self._publish_batches(self.campaigns[cid], rows)
        return self.jobs, self.results

    # --- helpers ---------------------------------------------------------------------------

    def _window(self, camp: Campaign) -> tuple[datetime, datetime] | None:
        if camp.kind != "broadcast" or not camp.starts_on or not camp.ends_on:
            return None
        w = self._windows.get(camp.id)
        if w is None:
            from .campaigns import window_bounds

            w = self._windows[camp.id] = window_bounds(camp, self.tz)
        return w

    def _broadcast_context(self, camp: Campaign, lang: str, patient: dict | None = None) -> dict:
        """What a broadcast's templates see: the clinic, its window, and (push only) the patient."""
        return templating.build_context(
            clinic=self.d._clinic,
            patient=patient,
            invitation=None,
            language=lang,
            campaign={"starts_on": camp.starts_on, "ends_on": camp.ends_on},
        )

    def _language(self, camp: Campaign, patient: Patient | None) -> str:
        tpl = self.templates.get(camp.id, {})
        lang = templating.pick_language(tpl, patient.language if patient else None, self.config.clinic.default_language)
        if not any((tpl.get(lang) or {}).values()):
            # the default language is empty: take whichever language is written
            lang = next((lg for lg in templating.LANGUAGES if any((tpl.get(lg) or {}).values())), lang)
        return lang

    def _job(self, kind: str, rows: list[Claimed], **kw) -> None:
        self.jobs.append(Job(kind, rows, self.deadline, **kw))

    def _result(self, c: Claimed, state: str, error: str = "", due_at: datetime | None = None) -> None:
        self.results.append(Result(c, state, error, due_at))

    def _window_check(self, c: Claimed, camp: Campaign, when_ended: str) -> bool:
        """False (and a result) when the broadcast window is not open now."""
        w = self._window(camp)
        if w is None:
            return True
        opens, closes = w
        if self.now >= closes or camp.expired_at is not None:
            self._result(c, when_ended, self.rmod.R_WINDOW_ENDED)
            return False
        if self.now < opens:
            self._result(c, DeliveryState.PENDING, "", opens)  # the window moved later: wait for it
            return False
        return True

    # --- per kind ------------------------------------------------------------------------------

    def _email(self, c: Claimed, camp: Campaign, r: _Rcpt):
        if r.status not in (RecipientStatus.QUEUED, RecipientStatus.RETRYING):
            self._result(c, DeliveryState.CANCELLED, f"recipient is {r.status}")
            return None
        reason = self.rmod.skip_reason("invitation", r.patient)
        if reason:
            self._result(c, DeliveryState.SKIPPED, reason)
            return None
        return "email"

    def _push(self, c: Claimed, camp: Campaign, r: _Rcpt):
        if r.status not in (RecipientStatus.QUEUED, RecipientStatus.RETRYING):
            self._result(c, DeliveryState.CANCELLED, f"recipient is {r.status}")
            return None
        if not self._window_check(c, camp, DeliveryState.SKIPPED):
            return None
        p = r.patient
        reason = self.rmod.skip_reason("broadcast", p)
        if reason:
            self._result(c, DeliveryState.SKIPPED, reason)
            return None
        lang = self._language(camp, p)
        fields = self.templates[camp.id].get(lang, {})
        context = self._broadcast_context(camp, lang, _patient_values(p))
        try:
            rendered = templating.render(
                "broadcast", {"title": fields.get("title", ""), "push": fields.get("push", "")}, context
            )
        except templating.TemplateRenderError as e:
            self._result(c, DeliveryState.FAILED, f"template: {e}")
            return None
        self._job(
            DeliveryKind.PUSH,
            [c],
            method="POST",
            path="/v1/push",
            key=c.key,
            body={
                "app_id": p.app_id,
                "title": rendered.title,
                "body": rendered.push,
                "data": {"broadcast_id": camp.uuid},
            },
        )
        return None

    def _publish(self, c: Claimed, camp: Campaign, r: _Rcpt):
        # who sees a live broadcast in the feed (as core.recipients decides at assign):
        # not the removed, not those a consent rule skipped, not unknown app accounts
        no_push = getattr(self.rmod, "R_NO_PUSH", None)
        if (
            r.status == RecipientStatus.REMOVED
            or (r.status == RecipientStatus.SKIPPED and r.reason != no_push)
            or r.reason == R_UNKNOWN_APP
        ):
            self._result(c, DeliveryState.CANCELLED, f"recipient is {r.status}")
            return None
        if not self._window_check(c, camp, DeliveryState.CANCELLED):
            return None
        reason = self.rmod.skip_reason("broadcast", r.patient, at_start=False)
        if reason:
            self._result(c, DeliveryState.SKIPPED, reason)
            return None
        return "publish"

    def _publish_batches(self, camp: Campaign, rows: list[tuple[Claimed, _Rcpt]]) -> None:
        for chunk in _chunks(rows, PUBLISH_BATCH):
            app_ids = {c.id: r.patient.app_id for c, r in chunk}
            ids = list(dict.fromkeys(app_ids.values()))
            claimed = [c for c, _ in chunk]
            # a stable key for this exact set of rows: a retry of the same batch is a replay;
            # a different grouping is a new (harmless: adding to a set) request
            key = str(uuid.uuid5(_PUBLISH_NS, ",".join(sorted(c.key for c in claimed))))
            self._job(
                DeliveryKind.PUBLISH,
                claimed,
                method="POST",
                path=f"/v1/broadcasts/{camp.uuid}/recipients",
                body={"app_ids": ids},
                key=key,
                app_ids=app_ids,
            )

    def _unpublish(self, c: Claimed, camp: Campaign, r: _Rcpt):
        app_id = r.patient.app_id
        if not app_id:
            self._result(c, DeliveryState.SENT)  # no app account any more: nothing is shown to anyone
            return None
        self._job(
            DeliveryKind.UNPUBLISH,
            [c],
            method="DELETE",
            path=f"/v1/broadcasts/{camp.uuid}/recipients/{quote(app_id, safe='')}",
            key=c.key,
        )
        return None

    def _put(self, c: Claimed, camp: Campaign, r):
        if camp.kind != "broadcast" or not camp.starts_on or not camp.ends_on:
            self._result(c, DeliveryState.FAILED, "not a broadcast with a window")
            return None
        opens, closes = self._window(camp)
        titles, bodies = {}, {}
        tpl = self.templates.get(camp.id, {})
        for lang in templating.LANGUAGES:
            fields = tpl.get(lang) or {}
            if not (fields.get("title", "").strip() or fields.get("body", "").strip()):
                continue
            context = self._broadcast_context(camp, lang)
            try:
                rendered = templating.render(
                    "broadcast", {"title": fields.get("title", ""), "body": fields.get("body", "")}, context
                )
            except templating.TemplateRenderError as e:
                self._result(c, DeliveryState.FAILED, f"template ({lang}): {e}")
                return None
            titles[lang], bodies[lang] = rendered.title, rendered.body_markdown
        self._job(
            DeliveryKind.PUT,
            [c],
            method="PUT",
            path=f"/v1/broadcasts/{camp.uuid}",
            key=c.key,
            body={
                "title": titles,
                "body_markdown": bodies,
                "starts_at": _rfc3339(opens),
                "ends_at": _rfc3339(closes - timedelta(seconds=1)),
            },
        )
        return None

    def _expire(self, c: Claimed, camp: Campaign, r):
        self._job(DeliveryKind.EXPIRE, [c], method="DELETE", path=f"/v1/broadcasts/{camp.uuid}", key=c.key)
        return None

    # --- invitations --------------------------------------------------------------------------

    def _emails(self, rows: list[tuple[Claimed, _Rcpt]]) -> None:
        invitations = ensure_invitations([(c, r) for c, r in rows], self.config.clinic.app_url, self.now)
        for c, r in rows:
            camp = self.campaigns[c.campaign_id]
            p = r.patient
            inv = invitations[c.id]
            lang = self._language(camp, p)
            fields = self.templates[camp.id].get(lang, {})
            expires_on = inv.expires_at.replace(tzinfo=UTC).astimezone(self.tz).date()
            context = templating.build_context(
                clinic=self.d._clinic,
                patient=_patient_values(p),
                campaign={},
                language=lang,
                invitation={"url": inv.url, "code": inv.code, "expires_on": expires_on},
            )
            self._job(
                DeliveryKind.EMAIL,
                [c],
                key=c.key,
                mail={
                    "fields": {"subject": fields.get("subject", ""), "body": fields.get("body", "")},
                    "context": context,
                    "language": lang,
                    "address": p.email,
                    "to": formataddr((p.name, p.email), charset="utf-8"),
                },
            )


class _Pat:
    """The patient fields a send needs (what `recipients.skip_reason` reads, and the
    template's patient variables), without building a model per row."""

    __slots__ = (
        "id",
        "first_name",
        "last_name",
        "language",
        "email",
        "app_id",
        "marketing_consent",
        "push_enabled",
        "do_not_contact",
    )

    def __init__(self, *values):
        for k, v in zip(self.__slots__, values, strict=False):
            setattr(self, k, v)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class _Rcpt:
    __slots__ = ("id", "status", "reason", "patient")

    def __init__(self, id, status, reason, patient):
        self.id, self.status, self.reason, self.patient = id, status, reason, patient

    @property
    def patient_id(self) -> int:
        return self.patient.id


def _outside_any_loop(fn):
    """fn() here, or in a helper thread when this thread runs an event loop (a Textual app
    calling from its own loop): the dispatcher drives its own loop with run_until_complete."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=run, name="clinicast-dispatch-call")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _reset_connection() -> None:
    try:
        database.close()
    except Exception:  # noqa: BLE001 - a connection in a broken transaction: forget it
        try:
            database.obj._state.reset()
        except Exception:  # noqa: BLE001
            pass


def _patient_values(p: _Pat) -> dict:
    return {"first_name": p.first_name, "last_name": p.last_name, "language": p.language}


def _rfc3339(naive_utc: datetime) -> str:
    return naive_utc.replace(microsecond=0).isoformat() + "Z"


def new_code() -> str:
    """8 characters, no look-alikes (0/O, 1/I/L), shown as XXXX-XXXX."""
    s = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{s[:4]}-{s[4:]}"


@dataclass(frozen=True)
class InvitationInfo:
    code: str
    url: str
    expires_at: datetime


def ensure_invitations(rows: list[tuple[Claimed, _Rcpt]], app_url: str, now: datetime) -> dict[int, InvitationInfo]:
    """The invitation of each email delivery (by delivery id), created and committed
    before the email is sent; a retry reuses it — same code, same link — and its
    validity runs 14 days from this sending."""
    ids = [c.id for c, _ in rows]
    expires = now + timedelta(days=INVITATION_DAYS)
    base = app_url.rstrip("/")
    t = Invitation._meta.table_name
    p = database.param
    insert = (
        f"INSERT INTO {t} (recipient_id, patient_id, campaign_id, delivery_id, code, token, url, "
        f"created_at, expires_at) VALUES ({', '.join([p] * 9)}) ON CONFLICT DO NOTHING"
    )
    for _ in range(5):
        with write_transaction():
            have = {d for (d,) in Invitation.select(Invitation.delivery).where(Invitation.delivery.in_(ids)).tuples()}
            missing = []
            for c, r in rows:
                if c.id not in have:
                    code = new_code()
                    missing.append(
                        (
                            r.id,
                            r.patient_id,
                            c.campaign_id,
                            c.id,
                            code,
                            secrets.token_urlsafe(32),
                            f"{base}/{code.replace('-', '')}",
                            now,
                            expires,
                        )
                    )
            if missing:
                # a code collision (or a row another dispatcher just made) is skipped, then retried
                database.cursor().executemany(insert, missing)
            if have:
                (
                    Invitation.update(expires_at=expires)
                    .where(Invitation.delivery.in_(list(have)), Invitation.expires_at < expires)
                    .execute()
                )
        got = {
            d: InvitationInfo(code, url, exp)
            for d, code, url, exp in Invitation.select(
                Invitation.delivery, Invitation.code, Invitation.url, Invitation.expires_at
            )
            .where(Invitation.delivery.in_(ids))
            .tuples()
        }
        if len(got) == len(set(ids)):
            return got
    raise RuntimeError("could not create unique invitation codes")


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]


__all__ = ["Dispatcher", "PassStats", "event", "worker_name", "ensure_invitations", "new_code"]
