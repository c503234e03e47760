"""The small interface every transport implements, and the outcome of one call.

Two kinds of transport:

- a **mailer** (`send(message, sender, to, key) -> Outcome`, blocking, thread-safe):
  SMTP, or the maildir sink;
- a **gateway** (`await call(method, path, body, key) -> Outcome`, asyncio): the app
  gateway over HTTP, or the log sink.

An Outcome says what the dispatcher must do with the delivery: it went (`ok`), try
again later (`retry`, maybe with the server's `Retry-After`), give up (`final`, with
the reason shown to staff), or nobody can know (`unknown`: the message was handed to
the server and the connection dropped before its answer — retried only after backoff
and a bounded number of times, never at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

OK, RETRY, FINAL, UNKNOWN = "ok", "retry", "final", "unknown"


@dataclass(frozen=True)
class Outcome:
    status: str  # OK, RETRY, FINAL or UNKNOWN
    error: str = ""  # one line, for last_error / the recipient's reason
    retry_after: float | None = None  # seconds the server asked us to wait
    data: Any = None  # the parsed answer (e.g. {"added": 2, "unknown": [...]})

    @property
    def ok(self) -> bool:
        return self.status == OK

    @classmethod
    def success(cls, data: Any = None) -> Outcome:
        return cls(OK, data=data)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> Outcome:
        return cls(RETRY, error, retry_after)

    @classmethod
    def final(cls, error: str) -> Outcome:
        return cls(FINAL, error)

    @classmethod
    def unknown(cls, error: str) -> Outcome:
        return cls(UNKNOWN, error)


class Mailer(Protocol):
    """Sends one serialised email; safe to call from several threads at once."""

    concurrency: int

    def send(self, message: bytes, sender: str, to: list[str], key: str) -> Outcome: ...

    def close(self) -> None: ...


class Gateway(Protocol):
    """One call to the app gateway; `path` starts with /v1/."""

    concurrency: int

    async def call(self, method: str, path: str, body: dict | None, key: str | None) -> Outcome: ...

    async def aclose(self) -> None: ...


def one_line(text: object, limit: int = 300) -> str:
    """An error text fit for a status column: one line, bounded."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
