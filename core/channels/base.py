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
and a bounded number of times, never at once), or the **channel** is at fault, not this
delivery (`pause`: a token or login refused, a sender refused, a certificate that does
not verify, a relay asking to slow down): the channel pauses (core.channel_health), the
delivery waits with no attempt counted. `problem` names what is wrong (`PROBLEMS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

OK, RETRY, FINAL, UNKNOWN, PAUSE = "ok", "retry", "final", "unknown", "pause"

# what a channel's pause can be about (core.channel_health words each and says the fix)
GATEWAY_TOKEN = "gateway_token"  # 401 / 403: the gateway refuses our token
GATEWAY_URL = "gateway_url"  # a redirect: [gateway] url is wrong
GATEWAY_TLS = "gateway_tls"  # the gateway's certificate does not verify
SMTP_LOGIN = "smtp_login"  # 535: the SMTP server refuses our login
SMTP_SENDER = "smtp_sender"  # MAIL FROM refused
SMTP_TLS = "smtp_tls"  # the SMTP server's certificate does not verify, or no STARTTLS
SMTP_SECURITY = "smtp_security"  # [email] security does not match what the port speaks (TLS to a plain port)
SMTP_NO_AUTH = "smtp_no_auth"  # a username set, and the server offers no login (AUTH) on this connection
SECRET = "secret"  # the token or password cannot be read
SLOW_DOWN = "slow_down"  # 421 / 451 "too many": the relay's pace
SMTP_LIMIT = "smtp_limit"  # X.4.5 (550 5.4.5 "daily user sending limit exceeded"): the relay's sending limit
PROBLEMS = (
    GATEWAY_TOKEN,
    GATEWAY_URL,
    GATEWAY_TLS,
    SMTP_LOGIN,
    SMTP_NO_AUTH,
    SMTP_SECURITY,
    SMTP_SENDER,
    SMTP_TLS,
    SECRET,
    SLOW_DOWN,
    SMTP_LIMIT,
)


@dataclass(frozen=True)
class Outcome:
    status: str  # OK, RETRY, FINAL or UNKNOWN
    error: str = ""  # one line, for last_error / the recipient's reason
    retry_after: float | None = None  # seconds the server asked us to wait
    data: Any = None  # the parsed answer (e.g. {"added": 2, "unknown": [...]})
    problem: str = ""  # PAUSE: what is wrong with the channel (one of PROBLEMS)
    http_status: int = 0  # the gateway's HTTP status (0: none, or not HTTP)

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

    @classmethod
    def pause(cls, problem: str, error: str, retry_after: float | None = None) -> Outcome:
        """The channel is at fault (its setup, or its pace): not this delivery."""
        return cls(PAUSE, error, retry_after, problem=problem)


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
