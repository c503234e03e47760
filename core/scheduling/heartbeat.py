"""Heartbeats: each running scheduler's row in `heartbeat`, and who is alive by them.

A scheduler (core.scheduling.scheduler) beats every `heartbeat_seconds` and removes its row when it
stops; a row not refreshed for three beats is a process that died. The TUI's embedded
scheduler stands by while a daemon is alive, and `clinicast status` lists them.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from core import __version__
from core.config.types import Config
from core.enums import Role
from core.models import Heartbeat

DAEMON, TUI = Role.DAEMON, Role.TUI  # who beats: the words are core.enums.Role


def live_daemons(config: Config, now: datetime, exclude: str | None = None) -> list[Heartbeat]:
    since = now - timedelta(seconds=3 * config.scheduler.heartbeat_seconds)
    q = Heartbeat.select().where(Heartbeat.role == DAEMON, Heartbeat.beat_at >= since)
    if exclude:
        q = q.where(Heartbeat.name != exclude)
    return list(q)


def beat(name: str, role: str, now: datetime) -> None:
    """Refresh the row of the scheduler `name` ("host:pid..."), or write it the first time."""
    n = Heartbeat.update(beat_at=now).where(Heartbeat.name == name).execute()
    if not n:
        host, _, _ = name.partition(":")
        (
            Heartbeat.insert(
                name=name,
                host=host or socket.gethostname(),
                pid=os.getpid(),
                role=role,
                version=__version__,
                os_user=_os_user(),
                started_at=now,
                beat_at=now,
            )
            .on_conflict(conflict_target=[Heartbeat.name], update={Heartbeat.beat_at: now, Heartbeat.role: role})
            .execute()
        )


def _os_user() -> str:
    from core.context import login_name

    return login_name()


__all__ = ["DAEMON", "TUI", "beat", "live_daemons"]
