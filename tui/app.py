"""The clinicast TUI: an app factory shared by the command line and the tests.

The app opens the config, the database and the user itself (in a thread worker, so a
slow PostgreSQL never freezes the first frame); whatever stops it from working becomes
a full screen saying what is wrong and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.worker import Worker

from core import db as dbmod
from core import session
from core.config.watch import ConfigWatch, needs_restart, sending_changed, session_for
from core.context import Ctx, for_current_user
from core.enums import Permission
from core.errors import ClinicastError, ConfigError, DatabaseError, PermissionDenied
from core.i18n import _
from core.models import utcnow

if TYPE_CHECKING:
    from textual.events import DescendantFocus

    from core.scheduling.embedded import EmbeddedScheduler
from tui import workers
from tui.commands import CampaignCommands

TICK_SECONDS = 3.0  # the config file and who sends are checked this often

HANGUP_EXIT = 128 + signal.SIGHUP  # what a shell reports for a session ended by SIGHUP
HANGUP_GRACE = 5.0  # seconds the session has to unwind after SIGHUP, its scheduler already released


@dataclass
class Problem:
    title: str
    message: str
    advice: str


def open_session(config_path: str | None, clock: Callable[[], datetime]) -> Ctx | Problem:
    """Config, database and a user with the "campaigns" permission (core.session's steps)
    — or a Problem saying what is wrong and what to do."""
    config = None
    try:
        config = session.load_config(config_path)
        try:
            session.connect(config)
        except ClinicastError:
            raise
        except Exception as e:  # noqa: BLE001 - a driver error, in core's words (kind and fix)
            raise dbmod.explain(e) from None
        ctx = for_current_user(config, clock)
        ctx.require(Permission.CAMPAIGNS)
        return ctx
    except ClinicastError as e:
        return problem_for(e, config_path, str(config.path) if config else config_path)


def problem_for(error: ClinicastError, config_path: str | None, config_file: str | None) -> Problem:
    """What is wrong and what to do, picked by the error's kind (never by its words)."""
    where = f" --config {config_path}" if config_path else ""
    if isinstance(error, ConfigError):
        if error.kind == "no_config":
            return Problem(
                "No config file",
                str(error),
                "Create one from config.example.toml, or pass --config PATH, "
                "then press r to try again. `clinicast demo` opens a demo.",
            )
        return Problem(
            "The config file has problems",
            str(error),
            f"Fix each line above in {error.path} (an administrator can run "
            f"`clinicast config check{where}`), then press r to try again.",
        )
    if isinstance(error, DatabaseError):
        return Problem("The database is not ready", str(error), database_advice(error.kind, config_file, where))
    if isinstance(error, PermissionDenied):
        return Problem(
            "You cannot use clinicast",
            str(error),
            f'Ask an administrator to give you the "campaigns" permission under '
            f"[users.<your login>] in {config_file}, then press r to try again.",
        )
    return Problem("clinicast cannot open", str(error), "Press r to try again.")


def database_advice(kind: str, config_path: str | None, where: str) -> str:
    """What to do, by the error's kind (core.errors.DatabaseProblem), never by its words."""
    advice = {
        "empty": f"An administrator must run `clinicast init{where}` to create the database",
        "behind": f"An administrator must run `clinicast init{where}` to migrate the database",
        "newer": "This program is older than the database: install the newer clinicast",
        "not_writable": "Run the command above as root (or as the owner it names)",
        "locked": "Another clinicast process holds the database: wait a moment",
        "full": "The disk is full: an administrator must free some space",
        "invalid": f"Check [database] url in {config_path}: it does not point at a clinicast database",
        "unreachable": f"Check [database] url in {config_path} and that the database server answers",
    }.get(kind, f"Check [database] in {config_path}")
    return advice + "; then press r to try again."


class ClinicastApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "clinicast"
    COMMANDS = App.COMMANDS | {CampaignCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit clinicast", show=False, priority=True, id="app.quit"),
    ]

    # "embedded · running", "daemon host:123", "off — deliveries wait" …
    scheduler_state: reactive[str] = reactive("starting…")
    # "" while the config file applies as it is; else what the session does not take from it
    config_state: reactive[str] = reactive("")

    def __init__(
        self,
        config_path: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        scheduler: bool | None = None,
        blink: bool = True,
    ) -> None:
        super().__init__()
        self.blink = blink
        self.start_folder: str | None = None  # where the CSV file browser opens (None: cwd)
        self.config_path = str(config_path) if config_path else None
        self.clock = clock or utcnow
        self.scheduler_wanted = scheduler
        self.session: Ctx | None = None  # None until opened (or when it could not open)
        self.problem: Problem | None = None
        self.scheduler: EmbeddedScheduler | None = None
        self.config_watch: ConfigWatch | None = None  # the config file, checked each tick
        self._ticking = False
        self.hung_up = False
        self._hangup_watched = False
        self._release_lock = threading.Lock()

    @property
    def ctx(self) -> Ctx:
        """The session every screen acts in (screens exist only once it is open)."""
        if self.session is None:
            raise RuntimeError("the session is not open")
        return self.session

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        workers.report_failure(self, event)

    # --- opening -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self._watch_hangup()
        self._open()

    # --- the connection drops (SPEC §13) --------------------------------------------

    def _watch_hangup(self) -> None:
        """SIGHUP (sshd lost the connection, the terminal closed): end the session within
        seconds and release what the embedded scheduler holds, never a TUI left drawing
        into nothing (issue #19)."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hang_up)
            self._hangup_watched = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: not ours to watch
            pass

    def hang_up(self) -> None:
        """Release first (in a thread: the terminal may be gone, and drawing the way out can
        block on it), then quit; a session still alive after HANGUP_GRACE seconds ends there."""
        if self.hung_up:
            return
        self.hung_up = True
        threading.Thread(target=self._release_then_end, name="clinicast-hangup", daemon=True).start()
        self.exit(return_code=HANGUP_EXIT)

    def _release_then_end(self) -> None:
        self.release()
        time.sleep(HANGUP_GRACE)
        os._exit(HANGUP_EXIT)  # the app could not unwind by now (a write to a dead terminal blocks)

    def release(self) -> None:
        """Stop the embedded scheduler (its heartbeat removed, its claims released); once."""
        from tui.services import stop_scheduler

        with self._release_lock:
            scheduler, self.scheduler = self.scheduler, None
            stop_scheduler(scheduler)

    def retry_open(self) -> None:
        self._open()

    @work(exclusive=True, exit_on_error=False, group="open")
    async def _open(self) -> None:
        from tui.screens.problem import ProblemScreen

        try:
            opened = await asyncio.to_thread(open_session, self.config_path, self.clock)
        except Exception as e:  # noqa: BLE001 - a bug: say so on the problem screen, not a traceback
            opened = Problem(
                "clinicast could not start",
                f"{type(e).__name__}: {e}",
                "This is a bug: please report it with the line above.",
            )
        if isinstance(self.screen, ProblemScreen):
            self.pop_screen()
        if isinstance(opened, Problem):
            self.problem = opened
            self.push_screen(ProblemScreen(opened.title, opened.message, opened.advice))
            return
        self.problem = None
        self.session = ctx = opened
        self.sub_title = f"{ctx.config.clinic.name} · {ctx.user.name}"
        from tui.screens.campaign_list import CampaignListScreen

        self.push_screen(CampaignListScreen())
        self._start_scheduler()
        if ctx.config.path is not None:
            self.config_watch = await asyncio.to_thread(ConfigWatch, ctx.config.path)
        if not self._ticking:
            self._ticking = True
            self.set_interval(TICK_SECONDS, self._tick)

    # --- each tick: the config file, who sends -------------------------------------

    def _tick(self) -> None:
        self._check_config()
        if self.scheduler_wanted is not False and not workers.running(self, "scheduler"):
            self._scheduler_state()  # not while the scheduler (re)starts: it says its own state

    @work(exclusive=True, exit_on_error=False, group="config")
    async def _check_config(self) -> None:
        """Follow the config file: a valid change applies now (the next action runs under
        it), a broken one is said and the last good one kept (core.config.watch)."""
        watch, session = self.config_watch, self.session
        if watch is None or session is None:
            return
        reread = await asyncio.to_thread(watch.check)
        if reread is None:
            return
        if reread.config is None:
            self.config_state = _("config not applied, the last good one is in use: {problem}").format(
                problem=reread.problem
            )
            self.notify(self.config_state, title=_("Config file"), severity="error", markup=False, timeout=10)
            return
        old = session.config
        self.session = ctx = session_for(session, reread.config)
        self.sub_title = f"{ctx.config.clinic.name} · {ctx.user.name}"
        self.config_state = "; ".join(needs_restart(old, reread.config))
        self.notify(_("The config file changed: its new settings apply now."), markup=False, timeout=5)
        if sending_changed(old, ctx.config) and self.scheduler_wanted is not False:
            self._start_scheduler()

    # --- the embedded scheduler ----------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="scheduler")
    async def _start_scheduler(self) -> None:
        """Start the embedded scheduler under the session's config (again, after the
        config's sending settings changed: the running one stops first)."""
        from tui.services import start_scheduler

        if self.scheduler is not None:
            await asyncio.to_thread(self.release)  # the running one, under the old config
        try:
            self.scheduler, self.scheduler_state = await asyncio.to_thread(
                start_scheduler, self.ctx, self.scheduler_wanted
            )
        except Exception as e:  # noqa: BLE001 - the TUI works without it: say so in the status line
            self.scheduler_state = f"failed to start: {e}"
            self.notify(f"The embedded scheduler did not start: {e}", severity="error", markup=False)
            return
        if self.hung_up:  # the connection dropped while it started
            await asyncio.to_thread(self.release)

    @work(exclusive=True, exit_on_error=False, group="scheduler-state")
    async def _scheduler_state(self) -> None:
        from tui.services import state_text

        try:
            self.scheduler_state = await asyncio.to_thread(state_text, self.ctx, self.scheduler)
        except Exception as e:  # noqa: BLE001 - a status line, not worth a notice every 3 s
            self.scheduler_state = f"unknown ({e})"

    def wake_scheduler(self) -> None:
        """After a start or an assign: send now rather than at the next tick."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """Snapshots need a still cursor: with blink=False no cursor ever blinks."""
        if not self.blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def on_unmount(self) -> None:
        self.release()
        if self._hangup_watched:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


def make_app(
    config_path: str | Path | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    scheduler: bool | None = None,
    blink: bool = True,
) -> ClinicastApp:
    """The app for `clinicast` (config_path None: the usual discovery), `clinicast demo`
    and the tests. `clock` freezes time (naive UTC); `scheduler=False` never runs the
    embedded scheduler, None follows the config; `blink=False` keeps cursors still
    (snapshots)."""
    return ClinicastApp(str(config_path) if config_path else None, clock=clock, scheduler=scheduler, blink=blink)


def run(config_path: str | Path | None = None) -> int:
    """Run the TUI until the user quits; 1 when it could not open (the screen said why)."""
    app = make_app(config_path)
    app.run()
    if app.hung_up:  # the terminal is gone: what is left to flush at exit goes nowhere
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        return HANGUP_EXIT
    if app.return_code:
        return app.return_code
    return 1 if app.problem is not None else 0
