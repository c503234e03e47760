"""The clinicast TUI: an app factory shared by the command line and the tests.

The app opens the config, the database and the user itself (in a thread worker, so a
slow PostgreSQL never freezes the first frame); whatever stops it from working becomes
a full screen saying what is wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from core import config as cfg
from core import db as dbmod
from core.context import Ctx, for_current_user
from core.errors import PermissionDenied
from core.models import utcnow

from .commands import CampaignCommands
from .screens.base import WorkerResults
from .screens.problem import ProblemScreen


@dataclass
class Problem:
    title: str
    message: str
    advice: str


def open_session(config_path: str | None, clock: Callable[[], datetime]) -> Ctx:
    """Config, database, user — or a Problem saying what is wrong and what to do."""
    where = f" --config {config_path}" if config_path else ""
    try:
        config = cfg.load(config_path)
    except cfg.ConfigError as e:
        if e.path is None:
            return Problem(
                "No config file",
                str(e),
                "Create one from config.example.toml, or pass --config PATH, "
                "then press r to try again. `clinicast demo` opens a demo.",
            )
        return Problem(
            "The config file has problems",
            str(e),
            f"Fix each line above in {e.path} (an administrator can run "
            f"`clinicast config check{where}`), then press r to try again.",
        )
    try:
        try:
            dbmod.bind(config.database.url, config.database.group)
            dbmod.check_schema()
        except dbmod.DatabaseError:
            raise
        except Exception as e:  # noqa: BLE001 - a driver error, in core's words
            raise dbmod.explain(e) from None
    except dbmod.DatabaseError as e:
        return Problem("The database is not ready", str(e), database_advice(e.kind, config.path, where))
    try:
        ctx = for_current_user(config, clock)
        ctx.require("campaigns")
    except PermissionDenied as e:
        return Problem(
            "You cannot use clinicast",
            str(e),
            f'Ask an administrator to give you the "campaigns" permission under '
            f"[users.<your login>] in {config.path}, then press r to try again.",
        )
    return ctx


def database_advice(kind: str, config_path, where: str) -> str:
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


class ClinicastApp(WorkerResults, App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "clinicast"
    COMMANDS = App.COMMANDS | {CampaignCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit clinicast", show=False, priority=True, id="app.quit"),
    ]

    # "embedded · running", "daemon host:123", "off — deliveries wait" …
    scheduler_state: reactive[str] = reactive("starting…")

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
        self.ctx: Ctx | None = None
        self.problem: Problem | None = None
        self.scheduler = None

    # --- opening -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self._open()

    def retry_open(self) -> None:
        self._open()

    @work(thread=True, exclusive=True, exit_on_error=False, group="open")
    def _open(self):
        return open_session(self.config_path, self.clock)

    def _open_done(self, result) -> None:
        if isinstance(self.screen, ProblemScreen):
            self.pop_screen()
        if isinstance(result, Problem):
            self.problem = result
            self.push_screen(ProblemScreen(result.title, result.message, result.advice))
            return
        self.problem = None
        self.ctx = result
        self.sub_title = f"{result.config.clinic.name} · {result.user.name}"
        from .screens.campaign_list import CampaignListScreen

        self.push_screen(CampaignListScreen())
        self._start_scheduler()

    def _open_failed(self, error: BaseException) -> bool:
        self.problem = Problem(
            "clinicast could not start",
            f"{type(error).__name__}: {error}",
            "This is a bug: please report it with the line above.",
        )
        self.push_screen(ProblemScreen(self.problem.title, self.problem.message, self.problem.advice))
        return True

    # --- the embedded scheduler ----------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="scheduler")
    def _start_scheduler(self):
        from .services import start_scheduler

        return start_scheduler(self.ctx, self.scheduler_wanted)

    def _start_scheduler_done(self, result) -> None:
        self.scheduler, self.scheduler_state = result
        if self.scheduler_wanted is not False:
            self.set_interval(3, self._poll_scheduler)

    def _poll_scheduler(self) -> None:
        self._scheduler_state()

    @work(thread=True, exclusive=True, exit_on_error=False, group="scheduler-state")
    def _scheduler_state(self):
        from .services import state_text

        return state_text(self.ctx, self.scheduler)

    def _scheduler_state_done(self, text: str) -> None:
        self.scheduler_state = text

    def _scheduler_state_failed(self, error: BaseException) -> bool:
        self.scheduler_state = f"unknown ({error})"
        return True

    def wake_scheduler(self) -> None:
        """After a start or an assign: send now rather than at the next tick."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def _start_scheduler_failed(self, error: BaseException) -> bool:
        self.scheduler_state = f"failed to start: {error}"
        self.notify(f"The embedded scheduler did not start: {error}", severity="error", markup=False)
        return True

    def on_descendant_focus(self, event) -> None:
        """Snapshots need a still cursor: with blink=False no cursor ever blinks."""
        if not self.blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def on_unmount(self) -> None:
        from .services import stop_scheduler

        stop_scheduler(self.scheduler)
        self.scheduler = None


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
    return ClinicastApp(config_path, clock=clock, scheduler=scheduler, blink=blink)


def run(config_path: str | Path | None = None) -> int:
    """Run the TUI until the user quits; 1 when it could not open (the screen said why)."""
    app = make_app(config_path)
    app.run()
    if app.return_code:
        return app.return_code
    return 1 if app.problem is not None else 0
