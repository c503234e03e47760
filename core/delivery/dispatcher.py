"""The dispatcher: one per process (or per TUI), any number on one database.

`run_once()` drains what is due now (core.delivery.pipeline); it may be called from any
thread, one pass at a time, and `request_stop()` from any other. The dispatcher owns
what outlives a pass: the event loop, the database thread (peewee connections are per
thread), the mail threads and the transports — built when first needed, so a process
that never sends never reads a secret.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor

import peewee as pw

from core import sending_hours
from core.channels import Mailer, make_gateway, make_mailer
from core.channels.gateway import GatewayClient
from core.config.checks import email_problems
from core.config.types import Config
from core.delivery.kinds import HANDLERS, Handler
from core.delivery.letters import Letters
from core.delivery.logfmt import event, worker_name
from core.delivery.pipeline import Pass, PassStats
from core.delivery.results import Result
from core.delivery.retry import Policy
from core.delivery.testsend_kinds import TEST_HANDLERS
from core.enums import DeliveryKind, DeliveryState
from core.errors import ConfigError
from core.models import database, utcnow

log = logging.getLogger("clinicast.dispatch")
_EVENT_NAMES = {
    DeliveryState.SENT: "sent",
    DeliveryState.RETRYING: "retry",
    DeliveryState.FAILED: "failed",
    DeliveryState.SKIPPED: "skipped",
    DeliveryState.CANCELLED: "cancelled",
    DeliveryState.PENDING: "deferred",
}
_CONNECTION_ERRORS = (pw.OperationalError, pw.InterfaceError)


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

    def submit(self, fn, /, *args, **kwargs):
        fut: Future = Future()
        self._q.put((fut, fn, args))
        return fut

    def shutdown(self, wait: bool = True, **_) -> None:
        for _t in self._threads:
            self._q.put(None)
        if wait:
            for t in self._threads:
                t.join(timeout=5)


class Dispatcher:
    """Claims and sends deliveries for one config."""

    def __init__(
        self,
        config: Config,
        *,
        name: str | None = None,
        clock=utcnow,
        mailer: Mailer | None = None,
        gateway=None,
        rng: random.Random | None = None,
        logger: logging.Logger | None = None,
        ssl_context=None,
    ):
        self.config = config
        self.name = name or worker_name()
        self.clock = clock
        self.log = logger or log
        self._mailer = mailer
        self._gateway_transport = gateway
        self._gateway: GatewayClient | None = None
        self._ssl_context = ssl_context
        self._pass_lock = threading.Lock()
        self._stop = threading.Event()
        self.stop_deadline = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db_exec: ThreadPoolExecutor | None = None
        self._mail_exec: _DaemonThreadPool | None = None
        self._closed = False
        self.totals = PassStats()
        self.policy = Policy(config, rng, hours=self.first_allowed)
        self.letters = Letters(config, clock)
        self._handlers: dict[DeliveryKind, Handler] = {}
        self._hours: sending_hours.Hours | None = None

    # --- what the pass uses -------------------------------------------------------------

    @property
    def mailer(self) -> Mailer:
        if self._mailer is None:
            lacking = email_problems(self.config)
            if lacking:  # never an email without its way out and the clinic's identification
                raise ConfigError(None, lacking)
            self._mailer = make_mailer(self.config.email, ssl_context=self._ssl_context)
        return self._mailer

    @property
    def gateway(self) -> GatewayClient:
        if self._gateway is None:
            transport = self._gateway_transport or make_gateway(self.config.gateway)
            self._gateway = GatewayClient(transport)
        return self._gateway

    @property
    def mail_concurrency(self) -> int:
        return max(1, getattr(self.mailer, "concurrency", 1))

    @property
    def gateway_concurrency(self) -> int:
        return self.gateway.concurrency

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def handler(self, kind: DeliveryKind) -> Handler:
        h = self._handlers.get(kind)
        if h is None:
            h = self._handlers[kind] = (HANDLERS.get(kind) or TEST_HANDLERS[kind])(self)
        return h

    def first_allowed(self, when):
        """Sending hours (emails and pushes): parsed once, asked for every row."""
        if self._hours is None:
            self._hours = sending_hours.hours_of(self.config)
        return sending_hours.first_allowed_in(self._hours, self.config.clinic.tz, when)

    def mail_pool(self) -> _DaemonThreadPool:
        if self._mail_exec is None:
            self._mail_exec = _DaemonThreadPool(self.mail_concurrency, "clinicast-mail")
        return self._mail_exec

    async def db(self, fn, *args):
        """`fn(*args)` on the database thread. A connection the server dropped (a restart)
        is thrown away, so the next call opens a fresh one."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._db_exec, fn, *args)
        except _CONNECTION_ERRORS:
            await loop.run_in_executor(self._db_exec, _reset_connection)
            raise

    def log_results(self, results: list[Result]) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        for r in results:
            c = r.claimed
            level = logging.WARNING if r.state in (DeliveryState.RETRYING, DeliveryState.FAILED) else logging.INFO
            event(
                self.log,
                level,
                _EVENT_NAMES[r.state],
                kind=c.kind,
                delivery=c.id,
                campaign=c.campaign_id,
                recipient=c.recipient_id,
                attempt=c.attempts + (r.state not in (DeliveryState.PENDING, DeliveryState.CANCELLED)),
                next=r.due_at,
                reason=r.code or None,
                error=r.detail or None,
            )

    # --- lifecycle ----------------------------------------------------------------------

    def request_stop(self, grace: float = 5.0) -> None:
        """Stop claiming; sends under way get `grace` seconds; what was not started is released."""
        self.stop_deadline = time.monotonic() + grace
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
                stats = self._loop.run_until_complete(Pass(self).run())
            except Exception:
                # a broken connection (database restarted...) is not reused by the next pass
                self._loop.run_until_complete(self._loop.run_in_executor(self._db_exec, _reset_connection))
                raise
            stats.seconds = time.monotonic() - t0
            self.totals.merge(stats)
            if stats.claimed:
                counts = {k: v for k, v in stats.as_dict().items() if v and k != "seconds"}
                event(self.log, logging.INFO, "pass", worker=self.name, **counts, seconds=f"{stats.seconds:.2f}")
            return stats

    def call(self, make):
        """`await make()` on the dispatcher's loop, between passes: another user of its
        transports (the opt-out feed's GET) shares its connections and its secrets."""

        def run():
            with self._pass_lock:
                if self._closed:
                    raise RuntimeError("the dispatcher is closed")
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                    self._db_exec = ThreadPoolExecutor(1, thread_name_prefix="clinicast-db")
                return self._loop.run_until_complete(make())

        return _outside_any_loop(run)

    def close(self) -> None:
        """Close the transports and the worker threads (nothing is held between passes)."""
        _outside_any_loop(self._close)

    def _close(self) -> None:
        with self._pass_lock:
            if self._closed:
                return
            self._closed = True
            if self._loop is not None:
                if self._gateway is not None:
                    try:
                        self._loop.run_until_complete(self._gateway.aclose())
                    except Exception:  # noqa: BLE001 - closing: nothing to save
                        pass
                try:
                    self._loop.run_until_complete(self._loop.run_in_executor(self._db_exec, database.close))
                except Exception:  # noqa: BLE001 - closing: nothing to save
                    pass
                self._loop.close()
                if self._db_exec is not None:
                    self._db_exec.shutdown(wait=True)
            if self._mailer is not None:
                self._mailer.close()
            if self._mail_exec is not None:
                self._mail_exec.shutdown(wait=False)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    """Forget this thread's connection, even one stuck in a broken transaction."""
    try:
        database.close()
    except Exception:  # noqa: BLE001 - a connection in a broken transaction: forget it
        try:
            database.obj._state.reset()
        except Exception:  # noqa: BLE001 - nothing more can be done; the next call reconnects
            pass
