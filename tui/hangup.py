"""The session ends with its connection (SPEC §13, issue #19): SIGHUP, or a terminal
that is gone, ends the TUI within seconds and releases what its embedded scheduler
holds first. The app's part that watches for it; ClinicastApp inherits it and sets the
state below in its __init__ (`release()` is its own: the embedded scheduler's)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time

from textual.app import App

HANGUP_EXIT = 128 + signal.SIGHUP  # what a shell reports for a session ended by SIGHUP
TERMINAL_CHECK = 1.0  # seconds: how often the terminal is asked whether it is still there
HANGUP_GRACE = 5.0  # seconds the session has to unwind after SIGHUP, its scheduler already released


class HangUp(App[int]):
    """SIGHUP and the terminal watched; ClinicastApp's __init__ sets the state below."""

    hung_up: bool
    _hangup_watched: bool
    _unmounted: threading.Event  # the app has ended: its terminal is no longer watched

    def release(self) -> None:  # ClinicastApp's: the embedded scheduler stopped, once
        raise NotImplementedError

    def keep_drafts(self) -> None:  # ClinicastApp's: unsaved edits kept as drafts (core/drafts.py)
        raise NotImplementedError

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
                        self.keep_drafts()  # its loop stands still: the fields hold what was typed
                        self._release_then_end()
                return

    def hang_up(self) -> None:
        """Release first (in a thread: the terminal may be gone, and drawing the way out can
        block on it), then quit; a session still alive after HANGUP_GRACE seconds ends there.
        Unsaved edits are kept as drafts first (exit does it): no edit is lost with the line."""
        if self.hung_up:
            return
        self.hung_up = True
        threading.Thread(target=self._release_then_end, name="clinicast-hangup", daemon=True).start()
        self.exit(return_code=HANGUP_EXIT)

    def _release_then_end(self) -> None:
        self.release()
        time.sleep(HANGUP_GRACE)
        os._exit(HANGUP_EXIT)  # the app could not unwind by now (a write to a dead terminal blocks)

    def _stop_watching(self) -> None:
        """The app unmounts: the terminal's thread stops, SIGHUP is no longer ours."""
        self._unmounted.set()
        if self._hangup_watched:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
