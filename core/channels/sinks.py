"""Local sinks for the demo and for dry runs: nothing leaves the machine.

- `MaildirMailer` (`[email] transport = "maildir"`) writes each email as `<key>.eml`
  under `path` (written to a temporary name, then renamed: a reader never sees half a
  file, and a retry of the same delivery replaces its file instead of adding one).
- `LogGateway` (`[gateway] transport = "log"`) appends each call as one JSON line to
  `path` and answers success (a publish answers every id as added, the opt-out feed an
  empty list).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from core import oserrors
from core.channels.base import Outcome, one_line
from core.reasons import Detail, detail


class MaildirMailer:
    concurrency = 1

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def send(self, message: bytes, sender: str, to: list[str], key: str) -> Outcome:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            final = self.path / f"{key}.eml"
            tmp = self.path / f".{key}.eml.tmp"
            with open(tmp, "wb") as f:
                f.write(message)
            os.replace(tmp, final)
        except OSError as e:
            why = oserrors.words(e, english=True)
            return Outcome.retry(one_line(detail(Detail.SINK_WRITE, path=self.path, why=why)))
        return Outcome.success()

    def close(self) -> None:
        pass


class LogGateway:
    concurrency = 1

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    async def call(self, method: str, path: str, body: dict | None, key: str | None) -> Outcome:
        if method == "GET" and path.startswith("/v1/opt-outs"):
            return Outcome.success({"items": [], "next": None})  # nobody opts out of a log file
        line = (
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "method": method,
                    "path": path,
                    "idempotency_key": key,
                    "body": body,
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
            + "\n"
        )
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line)
        except OSError as e:
            why = oserrors.words(e, english=True)
            return Outcome.retry(one_line(detail(Detail.SINK_APPEND, path=self.path, error=why)))
        if method == "POST" and path.endswith("/recipients") and body:
            return Outcome.success({"added": len(body.get("app_ids", []))})
        if method == "POST" and path.endswith("/push") and body:
            return Outcome.success({"sent": len(body.get("app_ids", []))})
        return Outcome.success({})

    async def aclose(self) -> None:
        pass
