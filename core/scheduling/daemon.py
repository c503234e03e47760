"""`clinicast daemon`: the headless scheduler and dispatcher, for systemd or cron.

- one key=value line per event on stderr (`--log-level`): the keys and the event names
  stay English for whoever parses them; the `msg=` of the lines a person reads (start,
  stop, refusals) is in the configured language (SPEC §12: the service account's
  `[users.LOGIN] language`, else `[clinic] default_language`);
- a config file it cannot use is said in the same form, one `event=config_invalid
  file=… key=… problem=…` line per problem, and it exits 2 (bad input, SPEC §7);
- refuses a database whose schema is behind (or newer) than this program, an account
  that is neither the service account nor an admin, and an admin who is not the
  service account and is not given a secret (SPEC §13: it is the account that sends);
- a secret it cannot use (a file missing, empty or open to others) pauses that channel
  only (SPEC §5, core.channel_health): the other channel sends, and the paused one
  resumes by itself once the file is fixed, read again before each pass;
- a heartbeat row (host:pid, version, last beat) that `clinicast status` shows;
- SIGTERM / SIGINT: stop claiming, let sends under way finish within a few seconds,
  release what is left, remove the heartbeat, exit 0 (a second signal exits at once:
  leases left behind expire and another dispatcher takes the rows);
- SIGHUP (an administrator's habit to reload, or the terminal that started it closing):
  ignored, and said — it stopped the daemon without a word, and under systemd's
  Restart=on-failure nothing started it again; the config file is read again only to
  name a broken edit's keys (`event=config_invalid`) before a restart would stop on it;
- `--once`: everything due now (catch-up and every due delivery), wait for it, exit.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from core import __version__, pgurl
from core.config.types import Config
from core.delivery import event
from core.delivery import fmt as _fmt
from core.i18n import _
from core.scheduling import trail

log = logging.getLogger("clinicast.daemon")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
GRACE_SECONDS = 5.0


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… logger=… event=… k=v` — one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        name = record.name.removeprefix("clinicast.")
        msg = record.getMessage()
        if not msg.startswith("event="):
            msg = f"event=log msg={_fmt(msg)}"
        line = f"ts={ts} level={record.levelname.lower()} logger={name} {msg}"
        if record.exc_info:
            line += " traceback=" + _fmt(self.formatException(record.exc_info))
        return line


def setup_logging(level: str = "info", stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger("clinicast")
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    root.propagate = False
    aps = logging.getLogger("apscheduler")
    aps.handlers[:] = [handler]
    aps.setLevel(logging.DEBUG if level == "debug" else logging.ERROR)  # "skipped: already running" is normal
    aps.propagate = False
    return handler


def look_at_what_staff_share(config: Config) -> None:
    """At each start (issue #19): files of patient data any user can read, and the audit
    trail's tail — a break is logged with where it is, the chain's head always (a
    rewritten trail then no longer matches the journal). Neither stops sending."""
    from core.audit import chain
    from core.dbfiles import open_to_others

    for found in open_to_others(config):
        event(
            log,
            logging.WARNING,
            "readable_by_others",
            path=found.path,
            files=found.files,
            fix=found.fix,
            msg=_("patient data that any user of this server can read"),
        )
    try:
        verdict = chain.verify(tail=chain.TAIL)
    except Exception as e:  # noqa: BLE001 - a check that failed is said, the daemon still sends
        event(
            log,
            logging.ERROR,
            "audit_chain_unchecked",
            error=f"{type(e).__name__}: {e}",
            msg=_("the audit trail could not be checked"),
        )
        return
    for b in verdict.breaks:
        event(log, logging.ERROR, "audit_chain_broken", row=b.id, kind=b.kind, at=b.at.isoformat(), user=b.user,
              action=b.action, what=b.describe(config.clinic.tz), msg=_("the audit trail is broken here"))  # fmt: skip
    event(log, logging.INFO, "audit_chain", checked=verdict.rows, intact=verdict.intact, last_row=verdict.last_id,
          head=verdict.head)  # fmt: skip
    trail.guard_the_trail_head()


def _config_invalid(e, level: int, msg: str) -> None:
    """One `event=config_invalid file=… key=… problem=…` line per problem of `e` (a ConfigError)."""
    for key, problem in e.by_key():
        event(
            log,
            level,
            "config_invalid",
            file=str(e.path) if e.path else None,
            key=key or None,
            problem=problem,
            msg=msg,
        )


def _say_config_now(config) -> None:
    """On SIGHUP: the config file as it is now, read again (the daemon goes on with the
    one it started with). An administrator who edited it and sent SIGHUP learnt nothing of
    a mistake until `systemctl restart`, whose ExecStartPre then stopped all sending
    (exit 2, not restarted): each problem is one `event=config_invalid` line now."""
    from core import session
    from core.errors import ConfigError

    if config.path is None:
        return
    try:
        session.load_config(config.path)
    except ConfigError as e:
        _config_invalid(
            e,
            logging.WARNING,
            _(
                "the config file as it is now would not start the daemon: fix it before a restart; "
                "the daemon goes on with the config it started with"
            ),
        )
    except Exception as e:  # noqa: BLE001 - a signal handler never stops the daemon; said, not raised
        event(log, logging.WARNING, "config_unread", file=str(config.path), error=str(e))


def start(config_path: str | None, *, once: bool = False, log_level: str = "info") -> int:
    """`clinicast daemon`: read the config file (`config_path` as --config gave it), then
    `run`. Whatever the file's problem, the log says it in its own form, one line each."""
    from core import preferences, session
    from core.context import login_name
    from core.errors import ConfigError

    setup_logging(log_level)
    try:
        config = session.load_config(config_path)
    except ConfigError as e:
        _config_invalid(e, logging.ERROR, _("the daemon cannot start"))
        return e.exit_code
    preferences.speak_for(config, login_name(), database=False)  # the language of its msg=
    return run(config, once=once, log_level=log_level)


def run(config: Config, *, once: bool = False, log_level: str = "info", grace: float = GRACE_SECONDS) -> int:
    """Run until SIGTERM/SIGINT (or, with `once`, until everything due now is done)."""
    from core import db
    from core.config.secrets import unusable
    from core.context import for_service_or_admin, is_service_account
    from core.errors import ClinicastError
    from core.scheduling.heartbeat import DAEMON
    from core.scheduling.scheduler import Scheduler

    setup_logging(log_level)
    try:
        # the service account acts as the system; anyone else must be an admin (#8, SPEC §13)
        db.bind(config.database.url, config.database.group, must_exist=True)
        for_service_or_admin(config)
        db.check_schema()
        # an admin not given a secret is not the account that sends (SPEC §13): a pause of
        # the channel would hold it for the daemon that can; a secret nobody can use, or one
        # the service account lacks, pauses its channel once started (SPEC §5)
        if not is_service_account(config):
            for lack in unusable(config):
                if not lack.everyone:
                    event(log, logging.ERROR, "refused", error=lack.why, msg=_("the daemon cannot send: it stops"))
                    return 2
    except ClinicastError as e:
        event(log, logging.ERROR, "refused", error=str(e), kind=e.kind, msg=_("the daemon cannot start"))
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - a driver error, in words (locked, read-only, refused)
        err = db.explain(e)
        event(log, logging.ERROR, "refused", error=str(err), kind=err.kind, msg=_("the daemon cannot start"))
        return 1
    sched = Scheduler(config, role=DAEMON)
    event(
        log,
        logging.INFO,
        "start",
        name=sched.name,
        version=__version__,
        once=once,
        database=pgurl.redacted(config.database.url),
        email=config.email.transport,
        gateway=config.gateway.transport,
        config=str(config.path) if config.path else None,
        msg=_("the daemon started: it sends what is due"),
    )
    look_at_what_staff_share(config)
    try:  # before the first pass: no delivery of a channel that cannot send is claimed
        sched.look_at_secrets()
    except Exception as e:  # noqa: BLE001 - the pass looks again; a database away is said there
        event(log, logging.WARNING, "secrets_unchecked", error=f"{type(e).__name__}: {e}")

    stop = threading.Event()
    signals = []

    def on_signal(signum, _frame):
        signals.append(signum)
        if len(signals) > 1:
            event(
                log,
                logging.WARNING,
                "forced_exit",
                signal=signal.Signals(signum).name,
                msg=_("a second signal: the daemon exits now; what it held is released when its lease ends"),
            )
            os._exit(1)
        event(
            log,
            logging.INFO,
            "stopping",
            signal=signal.Signals(signum).name,
            grace=grace,
            msg=_("the daemon is stopping: the sends under way finish first"),
        )
        sched.dispatcher.request_stop(grace)
        stop.set()

    def on_hangup(signum, _frame):
        _say_config_now(config)  # a broken edit is named now, not at the restart it would stop
        event(
            log,
            logging.WARNING,
            "signal_ignored",
            signal=signal.Signals(signum).name,
            msg=_(
                "SIGHUP ignored: the daemon goes on sending; it reads its config at start: check the file"
                " first (clinicast config check), then systemctl restart clinicast"
            ),
        )

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        signal.signal(signal.SIGHUP, on_hangup)

    code = 0
    try:
        if once:
            stats = sched.run_due()
            event(
                log,
                logging.INFO,
                "once_done",
                **{k: v for k, v in stats.as_dict().items() if v and k != "seconds"},
                seconds=f"{stats.seconds:.2f}",
            )
        else:
            sched.start()
            while not stop.wait(0.5):
                pass
    except Exception as e:
        event(log, logging.ERROR, "crashed", error=f"{type(e).__name__}: {e}", msg=_("the daemon stopped on an error"))
        log.debug("crash", exc_info=True)
        code = 1
    finally:
        sched.stop(grace)
        event(log, logging.INFO, "stopped", name=sched.name, msg=_("the daemon stopped"))
    return code
