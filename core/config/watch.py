"""A long-running session follows its config file (issue #18, item 4): an open TUI
checks the file on each tick, applies a valid new version at once (sending hours,
permissions — a permission taken away refuses the next action) and keeps the last good
one while the new one is broken, saying so.

`ConfigWatch.check()` costs a `stat` when nothing changed: the file is read (and hashed)
when its modification time or size moved, or while its modification time is recent (a
rewrite of the same size within a coarse clock tick), and a new hash is what counts as
a change (an editor saving the same bytes changes nothing). `session_for` is the session
of the same person under the new config.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from core.config.load import load
from core.config.types import Config, User
from core.context import Ctx, login_name
from core.errors import ConfigError
from core.i18n import _

RECENT_NS = 2_000_000_000  # a file changed this recently is hashed even if its stat looks the same


@dataclass(frozen=True)
class Reread:
    """The outcome of a change to the file: `config` when it is valid (apply it), else
    None and `problem`, one line naming the file and what is wrong (the session keeps
    the config it had)."""

    config: Config | None
    problem: str = ""

    @property
    def broken(self) -> bool:
        return self.config is None


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class ConfigWatch:
    """The config file a session was opened with, from its state at that moment."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._stat = self._stat_now()
        self._digest = self._read_digest()

    def _stat_now(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read_digest(self) -> str | None:
        try:
            return _digest(self.path.read_bytes())
        except OSError:
            return None

    def check(self) -> Reread | None:
        """None when the file is as it was; else the new config, or why it cannot be used."""
        stat = self._stat_now()
        if stat == self._stat and (stat is None or time.time_ns() - stat[0] > RECENT_NS):
            return None
        self._stat = stat
        digest = self._read_digest()
        if digest == self._digest:
            return None
        self._digest = digest
        try:
            return Reread(load(self.path))
        except ConfigError as e:
            first = e.problems[0] if e.problems else str(e)
            more = len(e.problems) - 1
            # the file's name, not its folders: the words sit in the status line of an
            # 80-column screen, where a long path pushed the problem itself out of sight
            if e.path:
                first = _("{path}: {problem}").format(path=e.path.name, problem=first)
            if more > 0:
                from core.i18n import ngettext

                return Reread(
                    None,
                    ngettext("{problem} (and {n} more)", "{problem} (and {n} more)", more).format(
                        problem=first, n=more
                    ),
                )
            return Reread(None, first)


def session_for(ctx: Ctx, config: Config) -> Ctx:
    """The same person's session under `config`: their permissions as it now gives them
    (none when they were taken out of [users]: every action is then refused, saying
    so); the clock unchanged."""
    login = ctx.user.login if ctx.user.login else login_name()
    user = config.users.get(login) or User(login, ctx.user.name, frozenset())
    # the database stays the one this session is bound to (needs_restart says so)
    return replace(ctx, config=replace(config, database=ctx.config.database), user=user)


def needs_restart(old: Config, new: Config) -> list[str]:
    """What a running session cannot take from the new config (it applies at the next
    start), in words; empty when everything applies now."""
    from core.i18n import _

    if (old.database.url, old.database.group) != (new.database.url, new.database.group):
        return [_("[database] changed: it applies when clinicast is started again")]
    return []


def sending_changed(old: Config, new: Config) -> bool:
    """A change to what a dispatcher works with (hours, transports, scheduler, the clinic's
    identification): an embedded scheduler starts again under the new config."""
    return any(getattr(old, k) != getattr(new, k) for k in ("sending", "email", "gateway", "scheduler", "clinic"))
