"""The app gateway over HTTP (gateway-api.md), with one pooled httpx client.

Every call carries the bearer token, `User-Agent: clinicast/<version>` and the
delivery's `Idempotency-Key`, so any retry — after a timeout, a dropped connection, a
crash — is answered by the gateway with its first answer and done once.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .. import __version__
from .base import Outcome, one_line

USER_AGENT = f"clinicast/{__version__}"
MAX_RETRY_AFTER = 86400.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def error_message(body: bytes | str, status: int, reason: str = "") -> str:
    """The gateway's `error.message`, else a short description of the answer."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        msg = data["error"].get("message") or data["error"].get("code")
        if msg:
            return one_line(msg)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    head = f"gateway answered HTTP {status}" + (f" {reason}" if reason else "")
    return one_line(f"{head}: {text}" if text.strip() else head)


def classify(method: str, status: int, headers, body: bytes, reason: str = "") -> Outcome:
    """The contract's rules: 2xx (and 404 on DELETE) succeed; 408, 409 with Retry-After,
    429 and 5xx are retried (honouring Retry-After); any other status is final."""
    if 200 <= status < 300 or (status == 404 and method == "DELETE"):
        data = None
        if body:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                data = None
        return Outcome.success(data)
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status in (408, 429) or status >= 500 or (status == 409 and retry_after is not None):
        return Outcome.retry(error_message(body, status, reason), retry_after)
    return Outcome.final(error_message(body, status, reason))


def describe_exception(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the answer",
            httpx.WriteTimeout: "sending",
            httpx.PoolTimeout: "waiting for a free connection",
        }
        return f"gateway timed out {what.get(type(exc), 'waiting')} (after {timeout:g} s)"
    if isinstance(exc, httpx.ConnectError):
        return one_line(f"cannot connect to the gateway: {exc or type(exc).__name__}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return one_line(f"gateway closed the connection: {exc or type(exc).__name__}")
    return one_line(f"gateway connection error ({type(exc).__name__}): {exc}")


class HttpGateway:
    """`[gateway] transport = "http"`: pooled keep-alive connections, at most `concurrency`
    requests in flight.

    The pool is a set of `concurrency` httpx.AsyncClient *lanes* of one connection each,
    checked out in O(1): httpcore 1.0's own pool scans every connection for every
    request, and on loopback one 16-connection client managed about 550 requests/s where
    16 one-connection lanes managed about 950 (bench/bench_delivery.py). Callers may be
    many; a call waits for a free lane. Created in the event loop of the first call;
    `aclose()` from the same loop.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self._transport = transport
        self._lanes: asyncio.Queue | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._ssl = None  # one TLS context for every lane (building one costs ~40 ms)

    @classmethod
    def from_settings(cls, gw) -> HttpGateway:
        return cls(gw.url, gw.token, timeout=gw.timeout_seconds, concurrency=gw.concurrency)

    def _new_client(self) -> httpx.AsyncClient:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=self.timeout,
            transport=self._transport,
            verify=self._ssl,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    def _pool(self) -> asyncio.Queue:
        if self._lanes is None:
            self._lanes = asyncio.Queue()
            for _ in range(self.concurrency):
                c = self._new_client()
                self._clients.append(c)
                self._lanes.put_nowait(c)
        return self._lanes

    async def call(self, method: str, path: str, body: dict | None, key: str) -> Outcome:
        lanes = self._pool()
        client = await lanes.get()
        try:
            headers = {"Idempotency-Key": key}
            content = None
            if body is not None:
                content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                headers["Content-Type"] = "application/json"
            try:
                r = await client.request(method, path, content=content, headers=headers)
            except httpx.TransportError as exc:  # timeouts, refused, reset, GOAWAY: safe to retry
                return Outcome.retry(describe_exception(exc, self.timeout))
            return classify(method, r.status_code, r.headers, r.content, r.reason_phrase)
        finally:
            lanes.put_nowait(client)

    async def aclose(self) -> None:
        clients, self._clients, self._lanes = self._clients, [], None
        for c in clients:
            await c.aclose()
