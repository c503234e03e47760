"""The audit trail's newest row, as the daemon last saw it (issue #19): kept in the
daemon's own folder — systemd's StateDirectory, which staff cannot write — and looked
for at each start and housekeeping run (core.audit.chain.guard_head). The daemon's start
and the scheduler's housekeeping both call it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from core.delivery import event
from core.i18n import _

log = logging.getLogger("clinicast.daemon")


def state_folder(environ=os.environ) -> Path | None:
    """The daemon's own folder, which staff cannot write: systemd's StateDirectory
    (deploy/clinicast.service), given as $STATE_DIRECTORY. None elsewhere (cron, a test)."""
    first = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(first) if first else None


def guard_the_trail_head() -> None:
    """At each start and housekeeping run: the audit row that was the newest when the
    daemon last looked must still be there, unchanged (core.audit.chain.guard_head) —
    newest rows deleted leave a chain that verifies, not this. Never stops sending."""
    from core.audit import chain

    folder = state_folder()
    if folder is None:
        return
    try:
        lost = chain.guard_head(folder)
    except Exception as e:  # noqa: BLE001 - a check that failed is said, the daemon still sends
        event(log, logging.ERROR, "audit_head_unchecked", folder=str(folder), error=f"{type(e).__name__}: {e}",
              msg=_("the audit trail could not be checked"))  # fmt: skip
        return
    if lost:
        event(log, logging.ERROR, "audit_trail_cut", kind=lost.kind, row=lost.id, last_row=lost.last_id,
              what=lost.describe(), msg=_("the audit trail is broken here"))  # fmt: skip


__all__ = ["guard_the_trail_head", "state_folder"]
