"""The scheduler inside the TUI (`[scheduler] embedded`): a core.scheduling.scheduler `Scheduler`
started, stood by and stopped on the TUI's behalf."""

from __future__ import annotations

import logging

from core.config.types import Config
from core.delivery import Dispatcher
from core.models import utcnow
from core.scheduling.heartbeat import TUI
from core.scheduling.scheduler import Scheduler


class EmbeddedScheduler:
    """The scheduler inside the TUI, in background threads that never block the UI.

    `[scheduler] embedded`: "always", "never", or "auto" (the default): it runs, but
    stands by — no dispatch, no catch-up — while a daemon's heartbeat is fresh, and takes
    over by itself when the daemon stops beating.

        sched = EmbeddedScheduler(config)
        sched.start()            # returns at once; False when the config says "never"
        sched.wake()             # after a start/assign: dispatch now, not at the next tick
        sched.state()            # "off" / "standing by: daemon host:pid is running" / "running"
        sched.state_words()      # the same in the staff member's language
        sched.stop()             # on quit: releases what it holds, removes its heartbeat
    """

    def __init__(self, config: Config, *, clock=utcnow, logger: logging.Logger | None = None, **kw):
        self.config = config
        self.mode = config.scheduler.embedded
        self._scheduler: Scheduler | None = None
        self._clock, self._logger, self._kw = clock, logger, kw
        self.blocked: list[str] = []  # the secrets this process is not given: it does not send

    @property
    def scheduler(self) -> Scheduler | None:
        return self._scheduler

    def start(self) -> bool:
        if self.mode == "never":
            return False
        from core.config.secrets import unusable

        # a staff member not given the secrets does everything but send (SPEC §13); a
        # secret nobody can use (a file missing, empty, open to others) pauses its channel
        # only (SPEC §5, core.channel_health), as in the daemon
        self.blocked = [lack.words for lack in unusable(self.config) if not lack.everyone]
        if self.blocked:
            return False
        if self._scheduler is None:
            dispatcher = Dispatcher(
                self.config,
                clock=self._clock,
                logger=self._logger or logging.getLogger("clinicast.dispatch"),
                name=_tui_name(),
            )
            self._scheduler = Scheduler(
                self.config,
                role=TUI,
                clock=self._clock,
                dispatcher=dispatcher,
                logger=self._logger,
                standby_while_daemon=self.mode == "auto",
                **self._kw,
            )
            self._scheduler.start()
        return True

    def wake(self) -> None:
        if self._scheduler is not None:
            self._scheduler.wake()

    def state(self) -> str:
        s = self._scheduler
        if s is None or not s.running:
            return "off"
        if s.standing_by:
            return f"standing by: {s.standing_by}"
        if s.last_error:
            return f"running (last error: {s.last_error})"
        return "running"

    def state_words(self) -> str:
        """`state()` as a person reads it, in the language in use (the status line)."""
        from core.i18n import _

        s = self._scheduler
        if s is None or not s.running:
            return _("off")
        if s.standing_by_for:
            return _("standing by: daemon {name} is running").format(name=s.standing_by_for)
        if s.last_error:
            return _("running (last error: {error})").format(error=s.last_error)
        return self.running_words()

    @staticmethod
    def running_words() -> str:
        """What `state_words` says when all is well."""
        from core.i18n import _

        return _("running")

    def stop(self, grace: float = 2.0) -> None:
        if self._scheduler is not None:
            self._scheduler.stop(grace)


def _tui_name() -> str:
    from core.delivery import worker_name

    return worker_name(TUI)


__all__ = ["EmbeddedScheduler"]
