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
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.worker import Worker

from core.config.watch import ConfigWatch, Reread, needs_restart, sending_changed, session_for
from core.context import Ctx
from core.i18n import N_, _, clauses
from core.models import utcnow

if TYPE_CHECKING:
    from textual.events import DescendantFocus
    from textual.screen import Screen

    from core.scheduling.embedded import EmbeddedScheduler
from tui import typography, workers
from tui.commands import CampaignCommands
from tui.preferences import StaffPreferences
from tui.screens.opening import Problem, open_session

typography.install()  # no line breaks at a no-break space, before any text is wrapped

TICK_SECONDS = 3.0  # the config file and who sends are checked this often

HANGUP_EXIT = 128 + signal.SIGHUP  # what a shell reports for a session ended by SIGHUP
TERMINAL_CHECK = 1.0  # seconds: how often the terminal is asked whether it is still there
HANGUP_GRACE = 5.0  # seconds the session has to unwind after SIGHUP, its scheduler already released


class AfterTyped(Message):
    """`ClinicastApp.after_typed`'s callback, on its way up from the focused widget to the
    app: it bubbles through the same queues, behind the keys typed before it, which reach
    the app's bindings (a ↓ in a list) before it does."""

    def __init__(self, callback: Callable[[], object]) -> None:
        super().__init__()
        self.callback = callback


class ClinicastApp(StaffPreferences):
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

    # --- the connection drops (SPEC §13) --------------------------------------------

    def _watch_hangup(self) -> None:
        """SIGHUP (sshd lost the connection, the terminal closed): end the session within
        seconds and release what the embedded scheduler holds, never a TUI left drawing
        into nothing (issue #19). And the terminal itself, watched from a thread: the
        signal goes to the session's leader, and one that keeps it and waits for us (make,
        a shell that traps it) never passes it on — nor can the signal's handler run while
        the app is blocked writing to a terminal that is gone."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hang_up)
            self._hangup_watched = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread: not ours to watch
            pass
        try:
            fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
            if fd >= 0 and os.isatty(fd):
                loop = asyncio.get_running_loop()
                threading.Thread(
                    target=self._watch_terminal, args=(fd, loop), name="clinicast-tty", daemon=True
                ).start()
        except (OSError, ValueError):  # no terminal to watch (tests, a pipe)
            pass

    def _watch_terminal(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        """A terminal hung up answers EIO to everything: then the session ends as on SIGHUP
        (released first, in a thread; the process ends after HANGUP_GRACE if the app cannot)."""
        import errno
        import termios

        while not self.hung_up and not self._unmounted.wait(TERMINAL_CHECK):
            try:
                termios.tcgetattr(fd)
            except termios.error as e:
                if e.args and e.args[0] == errno.EIO:
                    loop.call_soon_threadsafe(self.hang_up)  # the app's own way out, if its loop runs
                    time.sleep(TERMINAL_CHECK)
                    if not self.hung_up:  # it is blocked (writing to the dead terminal): from here
                        self.hung_up = True
                        self._release_then_end()
                return

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
        from core.scheduling.heartbeat import live_daemons

        ctx = self.session
        if ctx is None:
            return False
        try:
            now = ctx.now()
            if channel_health.lines(ctx.config, now):
                return False
            embedded = self.scheduler.scheduler if self.scheduler is not None else None
            return bool(embedded is not None and embedded.running) or bool(live_daemons(ctx.config, now))
        except Exception:  # noqa: BLE001 - a colour, never worth a failure
            return False

    def wake_scheduler(self) -> None:
        """After a start or an assign: send now rather than at the next tick."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def after_typed(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the focused widget has handled every key typed before the
        one being handled now. A priority binding (ctrl+o, f10, enter on the campaign
        list) runs as its key reaches the app, while the keys typed just before it may
        still wait in the focused widget's queue — over SSH a burst arrives at once: a
        name's last letters, a ↓ in a list. Queued behind them, `callback` sees what the
        staff member typed (a save without its last letters, the campaign above the one
        chosen)."""
        focused = self.focused
        if focused is None or not focused.post_message(AfterTyped(callback)):
            callback()

    def on_after_typed(self, message: AfterTyped) -> None:
        message.callback()

    async def action_quit(self) -> None:
        """f10, ctrl+q: quit — once the keys typed before are in; a form with unsaved
        changes asks first, as its escape does (the top one that has any)."""
        self.after_typed(self._quit_unless_unsaved)

    def _quit_unless_unsaved(self) -> None:
        from tui.screens.modals import leave_unless_unsaved

        for screen in reversed(self.screen_stack):
            unsaved = getattr(screen, "unsaved", None)
            if unsaved is not None and unsaved() is not None:
                leave_unless_unsaved(screen, self.exit, quitting=True)
                return
        self.exit()

    def on_key(self, event: events.Key) -> None:
        """A key that came back up unhandled although the screen on top binds it first
        (a priority binding, checked before any widget sees a key): it was typed ahead
        and queued for the screen beneath before this one opened — over SSH `a` and F4
        often arrive in one burst. It is dispatched again, to the screen now on top."""
        if event in self._typed_ahead:
            self._typed_ahead.discard(event)  # once only, whatever became of it
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.binding.priority and active.enabled:
            event.prevent_default()  # not the bindings of the screen beneath
            event.stop()
            again = events.Key(event.key, event.character)
            if len(self._typed_ahead) > 64:  # those a binding took never come back
                self._typed_ahead.clear()
            self._typed_ahead.add(again)
            self.post_message(again)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """Snapshots need a still cursor: with blink=False no cursor ever blinks."""
        if not self.blink and hasattr(event.widget, "cursor_blink"):
            event.widget.cursor_blink = False

    def on_unmount(self) -> None:
        self._unmounted.set()
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
