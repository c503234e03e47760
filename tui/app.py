"""The clinicast TUI: an app factory shared by the command line and the tests.

The app opens the config, the database and the user itself (in a thread worker, so a
slow PostgreSQL never freezes the first frame); whatever stops it from working becomes
a full screen saying what is wrong and what to do.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.worker import Worker

from core.config.watch import ConfigWatch, Reread, needs_restart, sending_changed, session_for
from core.context import Ctx
from core.i18n import N_, _, clauses
from core.models import utcnow

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.events import DescendantFocus
    from textual.screen import Screen

    from core.scheduling.embedded import EmbeddedScheduler
from tui import typography, workers
from tui.commands import CampaignCommands
from tui.hangup import HANGUP_EXIT, HangUp
from tui.preferences import StaffPreferences
from tui.screens.opening import Problem, open_session
from tui.typeahead import TypedAhead

typography.install()  # no line breaks at a no-break space, before any text is wrapped

TICK_SECONDS = 3.0  # the config file and who sends are checked this often


class ClinicastApp(StaffPreferences, HangUp, TypedAhead):
    CSS_PATH = "app.tcss"
    TITLE = "clinicast"
    COMMANDS = {CampaignCommands}  # the screen's, the language switch and Textual's own, in one order
    # f10 first: ctrl+q is XON/XOFF flow control on some terminals and SSH clients
    BINDINGS = [
        Binding(
            "f10,ctrl+q", "quit", N_("Quit"), tooltip=N_("Quit clinicast"), show=False, priority=True, id="app.quit"
        ),
        Binding(
            "question_mark,f1", "keys", N_("Keys"), tooltip=N_("Every key of this screen"), show=False, id="app.keys"
        ),
    ]

    # who sends, in core.status's words ("deliveries: sent by the daemon on …") or the app's
    scheduler_state: reactive[str] = reactive("")
    # the same in fewer words (core.status's short=True), for a status line at 80 columns;
    # "" when there are none fewer
    scheduler_brief: reactive[str] = reactive("")
    # the state is a good one (somebody sends, no channel paused): the status line's colour
    scheduler_ok: reactive[bool] = reactive(False)
    # the state is the app's own words about its scheduler ("off in this session"), shown
    # after "scheduler:"; core.status's lines stand alone
    scheduler_own: reactive[bool] = reactive(True)
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
        # one check at a time: a check cancelled mid-read would have taken the change with it
        self._config_check = asyncio.Lock()
        self._ticking = False
        self.hung_up = False
        self._hangup_watched = False
        self._unmounted = threading.Event()  # the app has ended: its terminal is no longer watched
        self._release_lock = threading.Lock()
        self._keymap_applied: dict[str, str] = {}  # the [keys] in force
        self._typed_ahead: set[events.Key] = set()  # keys dispatched again (on_key)
        self._switched_to: str | None = None  # the language chosen in this session (palette)
        self._saved_theme = ""  # the theme core.preferences holds for this staff member
        self._theme_watched = False

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
        self._say_state(_("starting…"))
        self._watch_hangup()
        self._open()

    # --- the connection drops (SPEC §13): tui/hangup.py; what it releases -------------

    def release(self) -> None:
        """Stop the embedded scheduler (its heartbeat removed, its claims released); once."""
        from tui.services import stop_scheduler

        with self._release_lock:
            scheduler, self.scheduler = self.scheduler, None
            stop_scheduler(scheduler)

    def keep_drafts(self) -> None:
        """Each screen's unsaved edits kept as this login's draft (core/drafts.py): the
        session ends without the staff choosing to lose them (its connection went). A
        draft that cannot be written is lost with the session: nobody is left to tell."""
        if self.session is None:
            return
        for screen in list(self.screen_stack):
            keep = getattr(screen, "keep_draft", None)
            if keep is not None:
                try:
                    keep()
                except Exception:  # noqa: BLE001 - a full disk, a home not writable: the session ends anyway
                    pass

    def exit(self, result: int | None = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        """Every way out: unsaved edits the staff did not choose to lose become drafts."""
        self.keep_drafts()
        super().exit(result, return_code, message)

    def retry_open(self) -> None:
        self._open()

    @work(exclusive=True, exit_on_error=False, group="open")
    async def _open(self) -> None:
        from tui.screens.problem import ProblemScreen

        try:
            opened = await asyncio.to_thread(open_session, self.config_path, self.clock, self._switched_to)
        except Exception as e:  # noqa: BLE001 - a bug: say so on the problem screen, not a traceback
            opened = Problem(
                _("clinicast could not start"),
                f"{type(e).__name__}: {e}",
                _("This is a bug: please report it with the line above."),
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
        self._keymap_applied = dict(ctx.config.keys)
        self._apply_keymap(ctx.config.keys)
        await self._remembered_theme(ctx)
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

    @work(exit_on_error=False, group="config")
    async def _check_config(self) -> None:
        """Follow the config file: a valid change applies now (the next action runs under
        it), a broken one is said and the last good one kept (core.config.watch).

        Checks wait their turn, none is cancelled: watch.check records the file it read, so
        a check cancelled while its thread read (an exclusive worker replaced by the next
        tick's, when a loaded machine takes longer than a tick) lost the change for good."""
        async with self._config_check:
            watch, session = self.config_watch, self.session
            if watch is None or session is None:
                return
            reread = await asyncio.to_thread(watch.check)
            self._config_reread(reread, session)

    def _config_reread(self, reread: Reread | None, session: Ctx) -> None:
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
        self.config_state = clauses(needs_restart(old, reread.config))
        self.notify(_("The config file changed: its new settings apply now."), markup=False, timeout=5)
        if dict(ctx.config.keys) != self._keymap_applied:  # [keys] rebinds from now on (issue #18)
            self._keymap_applied = dict(ctx.config.keys)
            self._apply_keymap(ctx.config.keys)
        if sending_changed(old, ctx.config) and self.scheduler_wanted is not False:
            self._start_scheduler()

    def _apply_keymap(self, keymap: dict[str, str]) -> None:
        """The config's [keys] through Textual's keymap; what is wrong is said, the rest applies."""
        from tui import keys

        where = f"{self.ctx.config.path}: " if self.session is not None and self.session.config.path else ""
        bad = keys.problems(keymap, where)
        self.set_keymap(keys.usable(keymap))
        if bad:
            self.notify("\n".join(bad[:5]), title=_("[keys] not applied"), severity="warning", markup=False, timeout=12)

    # --- the staff's language (SPEC §12) ---------------------------------------------

    def _relabel(self) -> None:
        from tui.screens.base import ClinicastScreen

        if self.session is not None and self.scheduler_wanted is False:
            self._show_scheduler_state(None)
        elif self.session is not None:
            self._scheduler_state()
        for screen in self.screen_stack:
            if isinstance(screen, ClinicastScreen):
                screen.relabel()

    def get_key_display(self, binding: Binding) -> str:
        """The footer's and the keys screen's name for a key, in the language in use."""
        from tui.keys import key_words

        return key_words(super().get_key_display(binding))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands, in the language in use."""
        for command in super().get_system_commands(screen):
            if command.callback == self.action_show_help_panel:  # clinicast's own keys screen instead
                yield SystemCommand(_("Keys"), _("Every key of this screen"), self.action_keys)
            elif command.callback != self.action_hide_help_panel:
                yield SystemCommand(_(command.title), _(command.help), command.callback, command.discover)

    def action_command_palette(self) -> None:
        from tui.commands import Palette

        if self.use_command_palette and not Palette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(Palette(id="--command-palette", placeholder=_("Search for commands…")))

    def search_themes(self) -> None:
        from textual.theme import ThemeProvider

        from tui.commands import Palette

        self.push_screen(Palette(providers=[ThemeProvider], placeholder=_("Search for themes…")))

    def action_keys(self) -> None:
        """`?` / f1: every key of the screen, hidden ones too."""
        from tui.screens.keys import KeysScreen

        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen(self.screen))

    # --- the embedded scheduler ----------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="scheduler")
    async def _start_scheduler(self) -> None:
        """Start the embedded scheduler under the session's config (again, after the
        config's sending settings changed: the running one stops first)."""
        from tui.services import start_scheduler

        if self.scheduler is not None:
            await asyncio.to_thread(self.release)  # the running one, under the old config
        try:
            self.scheduler, state = await asyncio.to_thread(start_scheduler, self.ctx, self.scheduler_wanted)
        except Exception as e:  # noqa: BLE001 - the TUI works without it: say so in the status line
            self.scheduler_ok, self.scheduler_own = False, True
            self._say_state(_("failed to start: {error}").format(error=e))
            self.notify(
                _("The embedded scheduler did not start: {error}").format(error=e), severity="error", markup=False
            )
            return
        self._show_scheduler_state(state)
        if self.hung_up:  # the connection dropped while it started
            await asyncio.to_thread(self.release)

    @work(exclusive=True, exit_on_error=False, group="scheduler-state")
    async def _scheduler_state(self) -> None:
        from tui.services import state_text

        try:
            state = await asyncio.to_thread(state_text, self.ctx, self.scheduler)
        except Exception as e:  # noqa: BLE001 - a status line, not worth a notice every 3 s
            self.scheduler_ok, self.scheduler_own = False, True
            self._say_state(_("unknown ({error})").format(error=e))
            return
        self._show_scheduler_state(state)

    def _show_scheduler_state(self, state: tuple[str, str] | None) -> None:
        """core.status's line (in full, in short); in a session told never to send, the
        app's own words."""
        if self.scheduler_wanted is False or state is None:
            self.scheduler_ok, self.scheduler_own = False, True
            self._say_state(_("off in this session"))
            return
        self.scheduler_ok, self.scheduler_own = self._sending_ok(), False
        self._say_state(*state)

    def _say_state(self, full: str, brief: str = "") -> None:
        self.scheduler_brief = "" if brief == full else brief
        self.scheduler_state = full

    def _sending_ok(self) -> bool:
        """Somebody sends and no channel is paused (the status line shows it green)."""
        from core import channel_health
        from core.scheduling.heartbeat import something_sends

        ctx = self.session
        if ctx is None:
            return False
        try:
            now = ctx.now()
            if channel_health.lines(ctx.config, now):
                return False
            return something_sends(ctx.config, now, self.scheduler)
        except Exception:  # noqa: BLE001 - a colour, never worth a failure
            return False

    def wake_scheduler(self) -> None:
        """After a start or an assign: send now rather than at the next tick."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """Snapshots need a still cursor: with blink=False no cursor ever blinks."""
        if not self.blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def on_unmount(self) -> None:
        self._stop_watching()
        self.release()


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
