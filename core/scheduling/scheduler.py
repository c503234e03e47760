"""The scheduler: APScheduler 3 jobs, rebuilt from the database, that each claim their work.

One `Scheduler` per process — in the daemon, or embedded in the TUI — with an in-memory
job store (a job store must never be shared between processes) holding:

- `dispatch`, every `tick_seconds`: the secrets this process sends with looked at
  (`look_at_secrets`: a channel whose secret it cannot use waits, and resumes once it
  can), then a dispatcher pass (everything due now);
- `publish:<campaign>` at each broadcast window's first moment and `expire:<campaign>`
  just after its last day (clinic time zone), then a dispatch at once;
- `reconcile`, every `reconcile_seconds` and at start: catch-up — `publish_due` /
  `expire_due` find what should have happened meanwhile with a database query (an
  ended window is never published; a missed or dropped one-shot job loses nothing) —
  and the window jobs are rebuilt from the campaigns as they are now;
- `heartbeat`, every `heartbeat_seconds`: this process's row in `heartbeat`;
- `opt_outs`, every `tick_seconds`: the gateway's opt-out feed (core.optouts.feed).
- `housekeeping`, the daemon only, every `reconcile_seconds`: finished outbox rows older
  than `[database] keep_deliveries_days` deleted, a small batch a transaction
  (core.delivery.retention); the recipient counts and the row counts folded (core.tally).

Every job's work is claimed in the database (deliveries by lease, window changes by a
conditional update, the catch-up by locking each campaign it works on), so several
schedulers at once do each piece of work once.

Time: APScheduler fires on the wall clock; the work reads `clock()` (naive UTC). A clock
offset from the wall clock (tests) shifts the window jobs by the same offset.

The heartbeat rows and `live_daemons` are core.scheduling.heartbeat; the TUI's `EmbeddedScheduler`
is core.scheduling.embedded, which builds on this module (never the other way round).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor as APThreadPool
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from peewee import PeeweeException

from core.config.types import Config
from core.context import Ctx
from core.delivery import Dispatcher, PassStats, event
from core.enums import Kind
from core.models import Campaign, Heartbeat, database, utcnow
from core.scheduling.heartbeat import DAEMON, beat, live_daemons

log = logging.getLogger("clinicast.scheduler")


def _system_ctx(config: Config, clock) -> Ctx:
    """The scheduler acts as the system, not as a staff member."""
    from core.config.types import User

    return Ctx(config, User("clinicast", "clinicast scheduler", frozenset({"campaigns"})), clock)


class Scheduler:
    """Dispatch, window jobs, catch-up and heartbeat for one process.

    `start()` returns at once (the first catch-up and heartbeat run in the scheduler's
    threads); `stop(grace)` stops claiming, lets sends under way finish within `grace`
    seconds, releases the rest and removes the heartbeat. `run_due()` does everything
    due now in the calling thread (the daemon's --once).
    """

    def __init__(
        self,
        config: Config,
        *,
        role: str = DAEMON,
        clock=utcnow,
        dispatcher: Dispatcher | None = None,
        logger: logging.Logger | None = None,
        reconcile_seconds: float | None = None,
        standby_while_daemon: bool = False,
    ):
        self.config = config
        self.role = role
        self.clock = clock
        self.log = logger or log
        self.dispatcher = dispatcher or Dispatcher(config, clock=clock, logger=logging.getLogger("clinicast.dispatch"))
        self.name = self.dispatcher.name
        self.ctx = _system_ctx(config, clock)
        self.reconcile_seconds = reconcile_seconds or max(30.0, 6 * config.scheduler.tick_seconds)
        self.standby_while_daemon = standby_while_daemon
        self.standing_by: str | None = None  # why the embedded scheduler is idle
        self.standing_by_for: str | None = None  # the live daemon it stands by for
        self._sched: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self._jobs_done = threading.Condition()  # stop() waits for the jobs under way
        self._jobs_running = 0
        self._stopped = False
        self._woken = threading.Event()  # wake() came while a pass ran: run another
        self.last_error: str | None = None
        self._feed_error = ""  # the opt-out feed's failure, logged once until it changes

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._sched is not None and not self._stopped

    def start(self) -> None:
        with self._lock:
            if self._sched is not None:
                return
            s = self.config.scheduler
            self._sched = BackgroundScheduler(
                timezone=UTC,
                executors={"default": APThreadPool(4)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            now = datetime.now(UTC)
            self._sched.add_job(
                self._job(self.heartbeat),
                IntervalTrigger(seconds=s.heartbeat_seconds),
                id="heartbeat",
                name="heartbeat",
                next_run_time=now,
            )
            self._sched.add_job(
                self._job(self.reconcile),
                IntervalTrigger(seconds=self.reconcile_seconds),
                id="reconcile",
                name="reconcile",
                next_run_time=now,
            )
            self._sched.add_job(
                self._job(self.pull_opt_outs),
                IntervalTrigger(seconds=s.tick_seconds),
                id="opt_outs",
                name="opt-out feed",
                next_run_time=now,
            )
            if self.role == DAEMON:
                self._sched.add_job(
                    self._job(self.housekeeping),
                    IntervalTrigger(seconds=self.reconcile_seconds),
                    id="housekeeping",
                    name="housekeeping",
                    next_run_time=now + timedelta(seconds=1),
                )
            self._sched.add_job(
                self._job(self.dispatch),
                IntervalTrigger(seconds=s.tick_seconds),
                id="dispatch",
                name="dispatch",
                next_run_time=now + timedelta(milliseconds=50),
            )
            self._sched.start()
            event(
                self.log,
                logging.INFO,
                "scheduler_started",
                name=self.name,
                role=self.role,
                tick=s.tick_seconds,
                lease=s.lease_seconds,
            )

    def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; sends under way get `grace` seconds; then release and unregister."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.dispatcher.request_stop(grace)
        if self._sched is not None:
            # not shutdown(wait=True): APScheduler holds its job-store lock while it waits,
            # and a running reconcile asking for its jobs would wait on it forever
            try:
                self._sched.shutdown(wait=False)
            except Exception:  # noqa: BLE001 - never started or already down
                pass
            with self._jobs_done:
                if not self._jobs_done.wait_for(lambda: self._jobs_running == 0, timeout=grace + 30):
                    event(self.log, logging.WARNING, "jobs_still_running", count=self._jobs_running)
        self.dispatcher.close()
        try:  # in the caller's thread, on its connection (left open: it may be the TUI's)
            Heartbeat.delete().where(Heartbeat.name == self.name).execute()
        except Exception as e:  # noqa: BLE001 - the heartbeat goes stale by itself
            event(self.log, logging.WARNING, "heartbeat_delete_failed", error=e)
        event(
            self.log,
            logging.INFO,
            "scheduler_stopped",
            name=self.name,
            **{k: v for k, v in self.dispatcher.totals.as_dict().items() if v and k != "seconds"},
        )

    def wake(self) -> None:
        """Dispatch now rather than at the next tick (after a start, an assign...). A pass
        already running makes one more when it ends (APScheduler skips a job that runs)."""
        self._woken.set()
        if self._sched is not None and not self._stopped:
            try:
                self._sched.modify_job("dispatch", next_run_time=datetime.now(UTC))
            except JobLookupError:
                pass

    def run_due(self) -> PassStats:
        """Everything due now, in this thread: catch-up, then dispatch until nothing is due
        (and the daemon's housekeeping)."""
        self.heartbeat()
        try:
            self.look_at_secrets()
            self.pull_opt_outs()
            self.catch_up()
            stats = self.dispatcher.run_once()
            if self.role == DAEMON:
                self.housekeeping()
            return stats
        finally:
            _close_connection()

    # --- jobs -----------------------------------------------------------------------------

    def _job(self, fn):
        def run():
            with self._jobs_done:
                if self._stopped:
                    return
                self._jobs_running += 1
            try:
                fn()
                self.last_error = None
            except Exception as e:
                self.last_error = f"{type(e).__name__}: {e}"
                if isinstance(e, PeeweeException):  # locked, read-only, a stray WAL: in words, with the fix
                    from core.db import explain

                    self.last_error = str(explain(e))
                event(self.log, logging.ERROR, "job_failed", job=fn.__name__, error=self.last_error)
                self.log.debug("job %s failed", fn.__name__, exc_info=True)
            finally:
                _close_connection()
                with self._jobs_done:
                    self._jobs_running -= 1
                    self._jobs_done.notify_all()

        run.__name__ = fn.__name__
        return run

    def _active(self) -> bool:
        """The embedded scheduler stands by while a daemon is alive ("auto")."""
        if not self.standby_while_daemon:
            return True
        daemons = live_daemons(self.config, self.clock(), exclude=self.name)
        was = self.standing_by
        self.standing_by = f"daemon {daemons[0].name} is running" if daemons else None
        self.standing_by_for = daemons[0].name if daemons else None  # the daemon's name, for words
        if was != self.standing_by:
            event(
                self.log,
                logging.INFO,
                "standby" if daemons else "active",
                name=self.name,
                daemon=daemons[0].name if daemons else None,
            )
        return not daemons

    def look_at_secrets(self) -> None:
        """The secrets this process sends with, read again (core.channel_health): a
        channel whose secret it cannot use is paused, its deliveries left waiting, and
        resumes by itself once the secret can be used; said in the log."""
        from core import channel_health
        from core.delivery.recording import log_channel_changes

        now = self.clock()
        changes = channel_health.look_at_secrets(self.config, now, self.name)
        log_channel_changes(self.dispatcher.log, changes, self.config, now)

    def dispatch(self) -> None:
        if self._stopped or not self._active():
            return
        self.look_at_secrets()  # before the claim: a channel that cannot send is not claimed
        while True:
            self._woken.clear()
            self.dispatcher.run_once()
            if not self._woken.is_set() or self._stopped:
                return

    def pull_opt_outs(self) -> None:
        """The gateway's opt-out feed, every tick (core.optouts.feed): what patients changed
        on the app side, and their unsubscribe-link clicks."""
        if self._stopped or not self._active():
            return
        from core import channel_health
        from core.optouts import feed as optout_feed

        if channel_health.GATEWAY in channel_health.paused(self.clock()):
            return  # the feed is the gateway's: it waits with the channel (no refused call a tick)

        self._feed_error = optout_feed.pull(self.dispatcher, self.clock, failing=self._feed_error).error

    def heartbeat(self) -> None:
        beat(self.name, self.role, self.clock())

    def catch_up(self) -> tuple[int, int]:
        """publish_due / expire_due: what should have happened by now happens once."""
        from core import recipients

        # each step locks the campaign it works on: several schedulers do it once
        published = recipients.publish_due(self.ctx)
        expired = recipients.expire_due(self.ctx)
        if published or expired:
            event(self.log, logging.INFO, "catch_up", published=published, expired=expired)
        return published, expired

    def housekeeping(self) -> int:
        """Outbox retention: the finished rows past `keep_deliveries_days`, a batch at a
        time; the campaigns' recipient counts and the tables' row counts folded
        (core.tally)."""
        from core import tally
        from core.delivery import retention
        from core.scheduling.trail import guard_the_trail_head

        tally.fold()
        guard_the_trail_head()  # the audit trail's newest row, as the daemon saw it last
        keep = self.config.database.keep_deliveries_days
        deleted = retention.prune(self.clock(), keep)
        if deleted:
            event(self.log, logging.INFO, "outbox_pruned", deleted=deleted, keep_days=keep)
        return deleted

    def reconcile(self) -> None:
        if self._stopped or not self._active():
            return
        if self.catch_up() != (0, 0):
            self.wake()
        self.rebuild_window_jobs()

    def rebuild_window_jobs(self) -> None:
        """One `publish:<id>` at the window's opening and one `expire:<id>` at its end for
        every broadcast still to come or live; stale window jobs are removed."""
        if self._sched is None:
            return
        from core.campaigns.window import window_bounds, window_valid

        now = self.clock()
        offset = now - utcnow()  # a test clock runs ahead or behind the wall clock
        tz = self.config.clinic.tz
        wanted: dict[str, tuple[datetime, str, int]] = {}
        q = Campaign.select().where(
            Campaign.kind == Kind.BROADCAST,
            Campaign.expired_at.is_null(True),
            Campaign.starts_on.is_null(False),
            Campaign.ends_on.is_null(False),
        )
        for c in q:
            if not window_valid(c):  # shown as invalid until `campaigns edit`; no job, no error each cycle
                continue
            opens, closes = window_bounds(c, tz)
            if now < opens:
                wanted[f"publish:{c.id}"] = (opens, "publish", c.id)
            if now < closes:
                wanted[f"expire:{c.id}"] = (closes, "expire", c.id)
        existing = {j.id: j for j in self._sched.get_jobs() if j.id.startswith(("publish:", "expire:"))}
        for job_id, job in existing.items():
            if job_id not in wanted:
                job.remove()
        for job_id, (at, what, cid) in wanted.items():
            run_at = (at - offset).replace(tzinfo=UTC)
            job = existing.get(job_id)
            if job is not None and job.next_run_time == run_at:
                continue
            self._sched.add_job(
                self._job(self._window_job),
                DateTrigger(run_date=run_at),
                args=None,
                id=job_id,
                name=f"{what} campaign {cid}",
                replace_existing=True,
            )
            event(self.log, logging.DEBUG, "window_job", job=job_id, at=at)

    def _window_job(self) -> None:
        """A window opened or ended: do what is due (claimed in the database), dispatch now."""
        if self._stopped or not self._active():
            return
        published, expired = self.catch_up()
        event(self.log, logging.INFO, "window", published=published, expired=expired)
        self.wake()


def _close_connection() -> None:
    try:
        if not database.is_closed():
            database.close()
    except Exception:  # noqa: BLE001 - a transaction left open by a failed job: drop it
        try:
            database.obj._state.reset()
        except Exception:  # noqa: BLE001
            pass


__all__ = ["Scheduler"]
