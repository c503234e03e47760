"""One `key=value` line per event (the daemon's log, SPEC §5)."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime
from itertools import count

_worker_seq = count(1)


def fmt(v) -> str:
    """A value as it appears in a log line: quoted when it holds spaces, quotes or '='."""
    if isinstance(v, datetime):
        v = v.isoformat(timespec="seconds") + "Z"
    s = str(v)
    if s == "" or any(c.isspace() or c in '"=' for c in s):  # a no-break space too (French text)
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


def event(logger: logging.Logger, level: int, what: str, /, **kv) -> None:
    """Log `event=what k=v …` (values quoted when they hold spaces; None values left out)."""
    if logger.isEnabledFor(level):
        logger.log(level, "event=%s %s", what, " ".join(f"{k}={fmt(v)}" for k, v in kv.items() if v is not None))


def worker_name(role: str = "") -> str:
    """host:pid (plus the role and a number when one process runs several dispatchers)."""
    n = next(_worker_seq)
    base = f"{socket.gethostname()}:{os.getpid()}"
    return (base + (f":{role}" if role else "") + (f":{n}" if n > 1 else ""))[:120]
