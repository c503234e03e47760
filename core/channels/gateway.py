"""The app gateway (gateway-api.md): the whole contract in one place.

- `GatewayClient` is the typed client: one method per endpoint (`put_broadcast`,
  `add_recipients`, `remove_recipient`, `delete_broadcast`, `push`, `opt_outs`), with
  the paths, bodies and the 500-id batches of the contract. The dispatcher calls only it.
- `HttpGateway` is the transport under it (`[gateway] transport = "http"`); the log
  sink (`core.channels.sinks.LogGateway`) is the other one.

Every call carries the bearer token, `User-Agent: clinicast/<version>` and, when it
changes something, the delivery's `Idempotency-Key`, so any retry — after a timeout, a
dropped connection, a crash — is answered by the gateway with its first answer and done
once. Every call has an overall deadline (`[gateway] timeout_seconds`), not only a
per-read timeout: a server that drips its answer a byte at a time is cut off too.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx

from core import __version__
from core.channels.base import GATEWAY_TLS, GATEWAY_TOKEN, GATEWAY_URL, SECRET, Outcome, one_line
from core.config import secrets
from core.errors import ConfigError
from core.reasons import Detail, detail

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
    status_words = f"{status} {reason}" if reason else str(status)
    if text.strip():
        return one_line(detail(Detail.GATEWAY_HTTP_TEXT, status=status_words, text=text))
    return one_line(detail(Detail.GATEWAY_HTTP, status=status_words))


def classify(method: str, status: int, headers, body: bytes, reason: str = "") -> Outcome:
    """The contract's rules: 2xx (and 404 on DELETE) succeed; 408, 409 with Retry-After,
    429 and 5xx are retried (honouring Retry-After); 401 and 403 (our token refused) and
    a redirect (a wrong [gateway] url) pause the channel: the clinic's setup, not the
    patient, fixable by the administrator; any other status is final."""
    if 300 <= status < 400:
        # a redirect is a wrong [gateway] url (http for https, a moved host)
        where = headers.get("location") or "elsewhere"
        return Outcome.pause(GATEWAY_URL, one_line(f"gateway answered HTTP {status} (redirect to {where})"))
    if status in (401, 403):
        return Outcome.pause(GATEWAY_TOKEN, error_message(body, status, reason))
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
            httpx.ConnectTimeout: Detail.GATEWAY_TIMEOUT_CONNECTING,
            httpx.ReadTimeout: Detail.GATEWAY_TIMEOUT_ANSWER,
            httpx.WriteTimeout: Detail.GATEWAY_TIMEOUT_SENDING,
            httpx.PoolTimeout: Detail.GATEWAY_TIMEOUT_POOL,
        }
        return detail(what.get(type(exc), Detail.GATEWAY_TIMEOUT), seconds=f"{timeout:g}")
    if isinstance(exc, httpx.ConnectError):
        return one_line(detail(Detail.GATEWAY_CONNECT, error=exc or type(exc).__name__))
    if isinstance(exc, httpx.RemoteProtocolError):
        return one_line(detail(Detail.GATEWAY_CLOSED, error=exc or type(exc).__name__))
    return one_line(detail(Detail.GATEWAY_ERROR, kind=type(exc).__name__, error=exc))


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
        token: str | None | Callable[[], str | None],
        *,
        timeout: float = 10.0,
        concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_file: str = "",
    ):
        self.url = url.rstrip("/")
        # the token, or how to read it: read again after a refusal (the administrator
        # fixed the file meanwhile), so the channel resumes by itself
        self._read_token = token if callable(token) else (lambda: token)
        self.token: str | None = None
        self._token_stale = True
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self._transport = transport
        self._lanes: asyncio.Queue | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._ssl: ssl.SSLContext | None = None  # one TLS context for every lane (building one costs ~40 ms)
        # the CA the certificate is checked against ("": the system's), read again after a
        # certificate refused: trusting it since (a fixed file, a CA installed) resumes the channel
        self.ca_file = ca_file
        self._tls_generation = 0  # moved on by a certificate refused: every lane's client is rebuilt
        self._generation_of: dict[int, int] = {}  # id(client) -> the generation it was built in

    @classmethod
    def from_settings(cls, gw) -> HttpGateway:
        return cls(gw.url, lambda: gw.token, timeout=gw.timeout_seconds, concurrency=gw.concurrency, ca_file=gw.ca_file)

    def _tls(self) -> ssl.SSLContext:
        """The TLS context every lane shares; raises _CaFileError for an unusable CA file."""
        if self._ssl is None:
            try:
                self._ssl = ssl.create_default_context(cafile=self.ca_file or None)
            except (OSError, ssl.SSLError) as e:
                why = getattr(e, "strerror", None) or getattr(e, "reason", None) or e
                raise _CaFileError(f"cannot use [gateway] ca_file {self.ca_file}: {why}") from None
        return self._ssl

    def _new_client(self) -> httpx.AsyncClient:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=self.timeout,
            transport=self._transport,
            verify=self._tls(),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self._generation_of[id(client)] = self._tls_generation
        return client

    def _pool(self) -> asyncio.Queue:
        if self._lanes is None:
            clients = [self._new_client() for _ in range(self.concurrency)]  # _CaFileError: no pool yet
            lanes: asyncio.Queue = asyncio.Queue()
            for c in clients:
                self._clients.append(c)
                lanes.put_nowait(c)
            self._lanes = lanes
        return self._lanes

    def _authorization(self) -> dict[str, str]:
        if self._token_stale:
            self.token = self._read_token()  # ConfigError: the caller pauses the channel
            self._token_stale = False
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def call(self, method: str, path: str, body: dict | None, key: str | None) -> Outcome:
        try:
            auth = self._authorization()
        except ConfigError as e:
            return Outcome.pause(SECRET, one_line(secrets.stored(e)))
        try:
            lanes = self._pool()
        except _CaFileError as e:
            return Outcome.pause(GATEWAY_TLS, one_line(e))
        client = await lanes.get()
        try:
            if self._generation_of.get(id(client)) != self._tls_generation:
                try:  # built before a certificate was refused: with the CA read again
                    client = await self._replace(client)
                except _CaFileError as e:
                    return Outcome.pause(GATEWAY_TLS, one_line(e))
            headers = {"Idempotency-Key": key} if key else {}
            headers.update(auth)
            content = None
            if body is not None:
                content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                headers["Content-Type"] = "application/json"
            try:
                async with asyncio.timeout(self.timeout):
                    r = await client.request(method, path, content=content, headers=headers)
            except TimeoutError:
                # the overall deadline: the connection may be half-used, so it is replaced
                client = await self._replace(client)
                return Outcome.retry(detail(Detail.GATEWAY_NO_ANSWER, seconds=f"{self.timeout:g}"))
            except httpx.TransportError as exc:  # timeouts, refused, reset, GOAWAY: safe to retry
                if _certificate_refused(exc):
                    # the next try reads the CA file (or the system's trust store) again, in
                    # every lane
                    self._ssl = None
                    self._tls_generation += 1
                    try:
                        client = await self._replace(client)
                    except _CaFileError as e:
                        return Outcome.pause(GATEWAY_TLS, one_line(e))
                    return Outcome.pause(GATEWAY_TLS, describe_exception(exc, self.timeout))
                return Outcome.retry(describe_exception(exc, self.timeout))
            outcome = replace(
                classify(method, r.status_code, r.headers, r.content, r.reason_phrase), http_status=r.status_code
            )
            if outcome.problem == GATEWAY_TOKEN:
                self._token_stale = True  # the next call reads it again
            return outcome
        finally:
            lanes.put_nowait(client)

    async def _replace(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        """A new client in this lane (the old one closed); _CaFileError keeps the old one."""
        fresh = self._new_client()
        self._clients[self._clients.index(client)] = fresh
        self._generation_of.pop(id(client), None)
        try:
            await client.aclose()
        except Exception:  # noqa: BLE001 - a connection cut off mid-answer may not close cleanly
            pass
        return fresh

    async def aclose(self) -> None:
        clients, self._clients, self._lanes = self._clients, [], None
        self._generation_of.clear()
        for c in clients:
            await c.aclose()


class _CaFileError(Exception):
    """The configured CA file cannot be read or holds no certificate."""


def _certificate_refused(exc: BaseException) -> bool:
    """A TLS certificate that does not verify (expired, self-signed, wrong name): the
    clinic's setup, not a passing network fault."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


MAX_IDS = 500  # app ids per recipients or push request (the contract's limit)


class GatewayClient:
    """gateway-api.md as methods; each answers an Outcome (its `data`, the parsed JSON)."""

    def __init__(self, transport):
        self.transport = transport
        self.concurrency = max(1, getattr(transport, "concurrency", 1))

    async def put_broadcast(
        self, broadcast_id: str, titles: dict, bodies: dict, starts_at: str, ends_at: str, key: str
    ) -> Outcome:
        body = {"title": titles, "body_markdown": bodies, "starts_at": starts_at, "ends_at": ends_at}
        return await self.transport.call("PUT", f"/v1/broadcasts/{quote(broadcast_id, safe='')}", body, key)

    async def add_recipients(self, broadcast_id: str, app_ids: list[str], key: str) -> Outcome:
        """Show the broadcast to these patients; `unknown_ids(outcome)` lists ids it does not know."""
        assert len(app_ids) <= MAX_IDS
        path = f"/v1/broadcasts/{quote(broadcast_id, safe='')}/recipients"
        return await self.transport.call("POST", path, {"app_ids": app_ids}, key)

    async def remove_recipient(self, broadcast_id: str, app_id: str, key: str) -> Outcome:
        path = f"/v1/broadcasts/{quote(broadcast_id, safe='')}/recipients/{quote(app_id, safe='')}"
        return await self.transport.call("DELETE", path, None, key)

    async def delete_broadcast(self, broadcast_id: str, key: str) -> Outcome:
        return await self.transport.call("DELETE", f"/v1/broadcasts/{quote(broadcast_id, safe='')}", None, key)

    async def push(self, broadcast_id: str, app_ids: list[str], title: str, body: str, key: str) -> Outcome:
        """One notification per app id (the same text for all: a broadcast's push carries
        no patient data)."""
        assert len(app_ids) <= MAX_IDS
        path = f"/v1/broadcasts/{quote(broadcast_id, safe='')}/push"
        return await self.transport.call("POST", path, {"app_ids": app_ids, "title": title, "body": body}, key)

    async def opt_outs(self, after: str | None, limit: int = MAX_IDS) -> Outcome:
        """What patients changed on the app side since the cursor `after`."""
        query = f"?limit={limit}" + (f"&after={quote(after, safe='')}" if after else "")
        return await self.transport.call("GET", f"/v1/opt-outs{query}", None, None)

    async def aclose(self) -> None:
        await self.transport.aclose()


def unknown_ids(outcome: Outcome) -> set[str]:
    """The app ids a recipients or push answer says the gateway does not know."""
    data = outcome.data if isinstance(outcome.data, dict) else {}
    unknown = data.get("unknown") or []
    return {str(u) for u in unknown} if isinstance(unknown, list) else set()
