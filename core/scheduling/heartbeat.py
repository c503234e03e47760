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


def embedded_sends(embedded) -> bool:
    """This session's embedded scheduler (an EmbeddedScheduler, or None when it did not
    start) runs, so it sends what falls due (SPEC §13)."""
    return embedded is not None and embedded.scheduler is not None and embedded.scheduler.running


def something_sends(config, now: datetime, embedded=None) -> bool:
    """Whether what falls due goes out without anyone doing more: a daemon alive by its
    heartbeat or this session's embedded scheduler running —
    core.status.sending_line's "nothing is sending" otherwise (SPEC §13). The start's words
    (core.recipients.start, reinvite), the held words (core.campaigns.reads), the relay's pace
    (core.pace) and the TUI's status line read it: one rule for who sends."""
    return embedded_sends(embedded) or bool(live_daemons(config, now))


__all__ = ["DAEMON", "TUI", "beat", "embedded_sends", "live_daemons", "something_sends"]
