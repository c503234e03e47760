"""SMTP (`[email] transport = "smtp"`): STARTTLS, implicit TLS or none, optional login.

A small pool of open connections (one per concurrent sender, at most `concurrency`):
each is reused for many messages. One message is one transaction — MAIL, RCPT, DATA,
the message, then the server's answer — and the transaction has an overall deadline
(`[email] timeout_seconds`): a watchdog shuts the socket when it runs out, however
slowly the server drips its lines.

Classification:
- before the message data was handed over (connecting, TLS, login, MAIL, RCPT, DATA's
  354): anything that goes wrong is safe to repeat. A *pooled* connection the server
  dropped meanwhile (idle timeout, 421, reset) is replaced and the message tried once
  more on a fresh one; otherwise the dispatcher retries later. A 4xx answer is retried,
  a 5xx final (550 for one address fails only that address);
- a 421 (the server closing the connection, RFC 5321 §3.8) to MAIL FROM or RCPT TO on a
  connection that already carried a message is its limit of messages per connection
  (Exim's smtp_accept_max_per_connection, 1000 by default): nothing of this message was
  accepted, so it goes at once on a new connection — no attempt, no pause. On a fresh
  connection it is the relay refusing us: the channel waits when the answer asks it to
  (smtp_answers.pace), else the dispatcher retries later. A relay that closed
  MAX_QUICK_RECONNECTS connections in a row, each right after one message, refuses us too:
  the channel waits (smtp_answers.pace's time, else DEFAULT_SLOW_DOWN);
- after the message and its final "." went out and before the server's answer (the
  connection dropped, the deadline ran out): the outcome is **unknown** — the server
  may have queued it. Never retried at once: the dispatcher decides (core.delivery.retry).
- the answer to the data: 250 sent, 4xx retried, 5xx final.

What is the clinic's setup, not the message, pauses the channel (Outcome.pause, see
core.channel_health): the login refused (535), the sender refused at MAIL FROM, a
certificate that does not verify, no STARTTLS offered, implicit TLS to a port that answers
in plain text, no login offered for the username set, a port that sends no plain greeting
and speaks TLS (implicit TLS, 465, with security "starttls"), the password unreadable; and
what an answer says of the relay rather than the recipient (its pace, its sending limit,
its refusal to relay for us): core.channels.smtp_answers.
The password is read again after a refused login, so a fixed file is used at the next try.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable

from core import oserrors
from core.channels import compose, dkim, smtp_answers
from core.channels.base import (
    SECRET,
    SLOW_DOWN,
    SMTP_LOGIN,
    SMTP_NO_AUTH,
    SMTP_SECURITY,
    SMTP_SENDER,
    SMTP_TLS,
    Outcome,
    one_line,
)
from core.config import secrets
from core.errors import ConfigError
from core.reasons import Detail, detail

PROBE_TLS_SECONDS = 10.0  # at most, to see whether a port that sent no greeting speaks TLS
# a 421 this soon after a connection's last message is the relay's limit (or its refusal),
# not its idle timeout (minutes: RFC 5321 §4.5.3.2.7)
LIMIT_RECENT_SECONDS = 10.0
# connections in a row closed by a 421 after one message each, replaced at once; the next
# such 421 pauses the channel (a relay that takes one message a connection refuses us)
MAX_QUICK_RECONNECTS = 3
# what OpenSSL says of a server answering a TLS handshake in plain text (its SMTP greeting)
_PLAIN_TEXT = frozenset({"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"})


class _ConnectFailed(Exception):
    def __init__(self, text: str, problem: str = "", wait: float | None = None):
        super().__init__(text)
        self.problem = problem
        self.wait = wait


class _Conn:
    """A connection of the pool, and how many messages went on it (a transaction answered
    with the connection still usable), the last one when (time.monotonic())."""

    __slots__ = ("smtp", "sent", "last")

    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp
        self.sent = 0
        self.last = 0.0


class _Closing:
    """A 421 to MAIL FROM or RCPT TO: the server closes the connection; nothing of this
    message was accepted. `text`: the reason in full, should it not be retried at once."""

    __slots__ = ("code", "answer", "text")

    def __init__(self, code: int, answer: str, text: str):
        self.code, self.answer, self.text = code, answer, text


def _decode(msg) -> str:
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "replace")
    return str(msg)


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        username: str = "",
        password: str | None | Callable[[], str | None] = None,
        timeout: float = 30.0,
        concurrency: int = 2,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        signer=None,
        ca_file: str = "",
    ):
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username = username
        # the password, or how to read it: read again after a refused login
        self._read_password = password if callable(password) else (lambda: password)
        self.password: str | None = None
        self._password_stale = True
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.ssl_context = ssl_context
        self.ca_file = ca_file  # read at each connection: a fixed file (or trust store) is used at once
        self.local_hostname = local_hostname
        self.signer = signer  # core.channels.dkim.DkimSigner, when clinicast signs
        self._idle: queue.LifoQueue[_Conn] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.connections_opened = 0  # for tests and the bench: reuse is visible
        self._quick_reconnects = 0  # connections in a row closed by a 421 after one message

    @classmethod
    def from_settings(cls, email, ssl_context: ssl.SSLContext | None = None) -> SmtpMailer:
        return cls(
            email.host,
            email.port,
            security=email.security,
            username=email.username,
            password=lambda: email.password,
            timeout=email.timeout_seconds,
            concurrency=email.concurrency,
            ssl_context=ssl_context,
            signer=dkim.from_settings(email),
            ca_file=email.ca_file,
        )

    # --- connections ----------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        """The TLS context of a new connection, built afresh each time (the CA file or the
        system's trust store read again: a certificate trusted since is used at once)."""
        if self.ssl_context is not None:
            return self.ssl_context
        try:
            return ssl.create_default_context(cafile=self.ca_file or None)
        except (OSError, ssl.SSLError) as e:  # the clinic's setup: the channel pauses
            why = getattr(e, "strerror", None) or getattr(e, "reason", None) or e
            raise _ConnectFailed(detail(Detail.SMTP_CA_FILE, path=self.ca_file, error=why), SMTP_TLS) from None

    def _connect(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        conn: smtplib.SMTP | None = None
        context = self._context() if self.security != "none" else None
        try:
            if self.security == "tls":
                conn = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
            if self.security == "starttls":
                conn.ehlo()
                if not conn.has_extn("starttls"):
                    raise _ConnectFailed(detail(Detail.SMTP_NO_STARTTLS, where=where), SMTP_TLS)
                conn.starttls(context=context)
                conn.ehlo()
            if self.username:
                conn.ehlo_or_helo_if_needed()
                if not conn.has_extn("auth"):  # e.g. security "none" to a relay that logs in after STARTTLS
                    text = detail(Detail.SMTP_NO_AUTH, where=where, security=self.security)
                    raise _ConnectFailed(text, SMTP_NO_AUTH)
                if self._password_stale:
                    self.password = self._read_password()
                    self._password_stale = False
                conn.login(self.username, self.password or "")
        except ConfigError as e:
            self._quit(conn)
            raise _ConnectFailed(secrets.stored(e), SECRET) from None
        except _ConnectFailed:
            self._quit(conn)
            raise
        except smtplib.SMTPAuthenticationError as e:
            self._quit(conn)
            self._password_stale = True  # the next connection reads it again
            raise _ConnectFailed(
                detail(
                    Detail.SMTP_LOGIN,
                    user=repr(self.username),
                    where=where,
                    answer=f"{e.smtp_code} {_decode(e.smtp_error)}",
                ),
                SMTP_LOGIN,
            ) from None
        except smtplib.SMTPResponseException as e:
            self._quit(conn)
            answer = f"{e.smtp_code} {_decode(e.smtp_error)}"
            text = detail(Detail.SMTP_CONNECT_ANSWER, where=where, answer=answer)
            if isinstance(e, smtplib.SMTPConnectError) and 400 <= e.smtp_code < 500:
                # a relay that will not talk to us now (its connection rate limit, busy): no
                # message was looked at, so no patient's attempt; the channel waits
                raise _ConnectFailed(
                    text, SLOW_DOWN, smtp_answers.slow_down(421, answer) or smtp_answers.DEFAULT_SLOW_DOWN
                ) from None
            raise _ConnectFailed(text) from None
        except ssl.SSLError as e:
            self._quit(conn)
            if self.security == "tls" and e.reason in _PLAIN_TEXT:  # the port speaks plain SMTP
                raise _ConnectFailed(detail(Detail.SMTP_NOT_TLS, where=where), SMTP_SECURITY) from None
            problem = SMTP_TLS if isinstance(e, ssl.SSLCertVerificationError) else ""
            why = e.reason or e
            if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message:
                why = f"certificate verify failed: {e.verify_message}"
            raise _ConnectFailed(detail(Detail.SMTP_TLS, where=where, error=why), problem) from None
        except (OSError, smtplib.SMTPException) as e:
            self._quit(conn)
            if conn is None and self._greeting_timed_out(e) and self._speaks_tls():
                # security "starttls" (or "none") to an implicit TLS port (465): the clinic's setup
                text = detail(Detail.SMTP_ONLY_TLS, where=where, security=self.security)
                raise _ConnectFailed(text, SMTP_SECURITY) from None
            said = oserrors.words(e, english=True) if isinstance(e, OSError) and e.errno else e or type(e).__name__
            raise _ConnectFailed(detail(Detail.SMTP_CONNECT, where=where, error=said)) from None
        with self._lock:
            self.connections_opened += 1
        return conn

    def _greeting_timed_out(self, e: BaseException) -> bool:
        """The connection was made and no plain-text greeting came in time (smtplib's
        "Connection unexpectedly closed: timed out"), with security "starttls" or "none"."""
        return (
            self.security != "tls"
            and isinstance(e, smtplib.SMTPServerDisconnected)
            and any(isinstance(x, TimeoutError) for x in (e.__cause__, e.__context__))
        )

    def _speaks_tls(self) -> bool:
        """Whether the port completes a TLS handshake (an implicit TLS port, waiting for
        ours before it greets). Only its speaking TLS is looked at, not its certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((self.host, self.port), timeout=min(self.timeout, PROBE_TLS_SECONDS)) as raw:
                with context.wrap_socket(raw, server_hostname=self.host):
                    return True
        except (OSError, ValueError):
            return False

    @staticmethod
    def _quit(conn: smtplib.SMTP | None) -> None:
        if conn is None:
            return
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection: nothing to save
            pass

    def _take(self) -> _Conn | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return None

    def _give(self, conn: _Conn) -> None:
        if self._closed:
            self._quit(conn.smtp)
        else:
            self._idle.put(conn)

    # --- sending --------------------------------------------------------------------

    def send(self, message: bytes, sender: str, to: list[str], key: str) -> Outcome:
        if self.signer is not None:
            try:
                message = self.signer.sign(message)
            except ConfigError as e:  # the key: the clinic's setup, not this email
                return Outcome.pause(SECRET, one_line(secrets.stored(e)))
        conn = self._take()
        for _ in range(2):
            if conn is None:
                try:
                    conn = _Conn(self._connect())
                except _ConnectFailed as e:
                    if e.problem:
                        return Outcome.pause(e.problem, one_line(e), e.wait)
                    return Outcome.retry(one_line(e))
            answered, usable = self._transaction(conn.smtp, message, sender, to)
            if usable:
                assert isinstance(answered, Outcome)  # a usable connection: the message's answer
                conn.sent += 1
                conn.last = time.monotonic()
                if conn.sent > 1 and self._quick_reconnects:  # a connection took more than one
                    with self._lock:
                        self._quick_reconnects = 0
                self._give(conn)
                return answered
            self._quit(conn.smtp)
            closed, conn = conn, None
            outcome = self._closing(answered, closed) if isinstance(answered, _Closing) else answered
            if outcome is not None:
                return outcome
            if not closed.sent:  # a fresh connection failed before the data: try later
                return Outcome.retry(detail(Detail.SMTP_CLOSED_BEFORE))
            # a pooled connection the server closed (its limit of messages, its idle
            # timeout): nothing of this message went, so once more on a fresh one
        return Outcome.retry(detail(Detail.SMTP_LOST_TWICE))

    def _closing(self, closing: _Closing, conn: _Conn) -> Outcome | None:
        """The outcome of a 421 to MAIL FROM or RCPT TO on `conn` (now closed); None: send
        the message again at once on a new connection (nothing of it was accepted).

        After a message on this connection it is the relay's limit of messages per
        connection (or its idle timeout): a new connection. On a fresh connection it is
        the relay refusing us: smtp_answers.pace's pause, else retried later. A relay that
        closed MAX_QUICK_RECONNECTS connections in a row, each right after its one message,
        refuses us too: the channel waits (smtp_answers.pace, else DEFAULT_SLOW_DOWN)."""
        paced = smtp_answers.pace(closing.code, closing.answer)
        if conn.sent:
            if conn.sent > 1 or time.monotonic() - conn.last >= LIMIT_RECENT_SECONDS:
                return None  # its limit, or an idle connection the server timed out
            with self._lock:
                if self._quick_reconnects < MAX_QUICK_RECONNECTS:
                    self._quick_reconnects += 1
                    return None
            problem, wait = paced or (SLOW_DOWN, smtp_answers.DEFAULT_SLOW_DOWN)
            return Outcome.pause(problem, one_line(closing.text), wait)
        if paced is not None:
            return Outcome.pause(paced[0], one_line(closing.text), paced[1])
        return None

    def _transaction(
        self, conn: smtplib.SMTP, message: bytes, sender: str, to: list[str]
    ) -> tuple[Outcome | _Closing | None, bool]:
        """(outcome, connection still usable). Outcome None: the connection was lost
        before the message data went out, so the message can be tried again at once;
        _Closing: a 421 to MAIL FROM or RCPT TO (see send)."""
        data_sent = False
        fired = threading.Event()
        timer = WATCHDOG.arm(self.timeout, _shut, conn, fired)
        try:
            # the envelope's domains in IDNA form (compose wrote the headers' the same)
            sender, to = compose.envelope(sender), [compose.envelope(a) for a in to]
            conn.command_encoding = "ascii"  # a pooled connection's last transaction may have set UTF-8
            conn.ehlo_or_helo_if_needed()
            options: list[str] = []
            if not all(a.isascii() for a in (sender, *to)) or not _head(message).isascii():
                # an internationalised email (RFC 6531): an address with accents before the @
                if not conn.has_extn("smtputf8"):
                    return self._no_smtputf8(sender, to), True
                options = ["SMTPUTF8", "BODY=8BITMIME"] if conn.has_extn("8bitmime") else ["SMTPUTF8"]
            code, msg = conn.mail(sender, options)
            if code != 250:
                said = _decode(msg)
                text = detail(Detail.SMTP_SENDER_REFUSED, sender=sender, answer=f"{code} {said}")
                if code == 421:  # closing (too many messages on this connection?): see send
                    return _Closing(code, said, text), False
                conn.rset()
                paced = smtp_answers.pace(code, said)
                if paced is not None:
                    return Outcome.pause(paced[0], one_line(text), paced[1]), True
                if code < 500:
                    return Outcome.retry(one_line(text)), True
                # the sender or the session (auth) is wrong, not this message: the channel
                # pauses, so fixing the config saves the campaign
                return Outcome.pause(SMTP_SENDER, one_line(text)), True
            for address in to:
                code, msg = conn.rcpt(address)
                if code in (250, 251):
                    continue
                said = _decode(msg)
                text = detail(Detail.SMTP_RECIPIENT_REFUSED, address=address, answer=f"{code} {said}")
                if code == 421:  # closing (too many messages on this connection?): see send
                    return _Closing(code, said, text), False
                conn.rset()
                if code >= 500 and smtp_answers.relay_denied(said):
                    return Outcome.pause(SMTP_SENDER, one_line(text)), True
                return self._answer(code, said, text), True
            code, msg = conn.docmd("DATA")
            if code != 354:
                said = _decode(msg)
                if code == 421 and smtp_answers.pace(code, said) is None:
                    return None, False
                text = detail(Detail.SMTP_DATA_ANSWER, answer=f"{code} {said}")
                if code == 421:
                    return self._answer(code, said, text), False
                conn.rset()
                return self._answer(code, said, text), True
            conn.send(_dot_stuffed(message))
            data_sent = True
            code, msg = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            timed_out = _timed_out(e, fired)
            if data_sent:
                after = Detail.SMTP_SILENT_AFTER if timed_out else Detail.SMTP_CLOSED_AFTER
                return Outcome.unknown(detail(after)), False
            if timed_out:
                return Outcome.retry(detail(Detail.SMTP_SILENT, seconds=f"{self.timeout:g}")), False
            return None, False
        except (UnicodeError, ValueError) as e:
            return Outcome.final(one_line(detail(Detail.CANNOT_SEND_TO, to=", ".join(to), error=e))), False
        finally:
            WATCHDOG.cancel(timer)
        if code == 250:
            return Outcome.success(), True
        said = _decode(msg)
        if code == 421 and smtp_answers.pace(code, said) is None:
            return None, False  # an explicit "closing, not accepted": safe to try again at once
        text = detail(Detail.SMTP_ANSWER, answer=f"{code} {said}")
        return self._answer(code, said, text), code != 421

    def _no_smtputf8(self, sender: str, to: list[str]) -> Outcome:
        """An email that needs SMTPUTF8 to a server that does not offer it: the recipient's
        address fails (SPEC §5: an answer about one recipient); the clinic's own sender
        with accents before the @ is its setup, and pauses the channel."""
        where = f"{self.host}:{self.port}"
        if compose.needs_smtputf8(sender):
            return Outcome.pause(SMTP_SENDER, one_line(detail(Detail.SMTP_NO_SMTPUTF8, address=sender, where=where)))
        address = ", ".join([a for a in to if compose.needs_smtputf8(a)] or to)
        return Outcome.final(one_line(detail(Detail.SMTP_NO_SMTPUTF8, address=address, where=where)))

    @staticmethod
    def _answer(code: int, answer: str, text: str) -> Outcome:
        """The outcome of a refusal: `answer` the server's words after the code, `text` the
        reason in full."""
        paced = smtp_answers.pace(code, answer)
        if paced is not None:  # the relay's pace, not this recipient
            return Outcome.pause(paced[0], one_line(text), paced[1])
        return Outcome.final(one_line(text)) if 500 <= code < 600 else Outcome.retry(one_line(text))

    def close(self) -> None:
        self._closed = True
        while True:
            conn = self._take()
            if conn is None:
                break
            try:
                conn.smtp.quit()
            except Exception:  # noqa: BLE001 - QUIT on a dead connection: just close it
                self._quit(conn.smtp)


def _timed_out(e: BaseException, fired: threading.Event) -> bool:
    """The deadline ran out: the watchdog fired, or the socket's own timeout (the same
    length) won the race against the watchdog's thread, as it does on a loaded machine;
    smtplib wraps that TimeoutError in SMTPServerDisconnected."""
    return fired.is_set() or any(isinstance(x, TimeoutError) for x in (e, e.__cause__, e.__context__))


class _Watchdog:
    """One thread keeps every transaction's deadline: a timer thread for each email
    cost more than sending it on a loaded machine (starting a thread waits for it to
    run). `arm` returns a handle for `cancel`; a deadline reached calls its function."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._due: list[tuple[float, int, Callable, tuple]] = []
        self._armed: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, fn: Callable, *args) -> int:
        with self._cv:
            handle = next(self._ids)
            heapq.heappush(self._due, (time.monotonic() + seconds, handle, fn, args))
            self._armed.add(handle)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="clinicast-smtp-deadlines", daemon=True)
                self._thread.start()
            elif self._due[0][1] == handle:
                self._cv.notify()
            return handle

    def cancel(self, handle: int) -> None:
        with self._cv:
            self._armed.discard(handle)

    def _run(self) -> None:
        with self._cv:
            while True:
                while self._due and self._due[0][1] not in self._armed:
                    heapq.heappop(self._due)  # cancelled
                if not self._due:
                    self._cv.wait()
                    continue
                at, handle, fn, args = self._due[0]
                left = at - time.monotonic()
                if left > 0:
                    self._cv.wait(left)
                    continue
                heapq.heappop(self._due)
                self._armed.discard(handle)
                try:
                    fn(*args)
                except Exception:  # noqa: BLE001 - a deadline's action must not end the watchdog
                    pass


WATCHDOG = _Watchdog()


def _shut(conn: smtplib.SMTP, fired: threading.Event) -> None:
    """The watchdog: end a transaction past its deadline (a blocked read returns at once)."""
    fired.set()
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _head(message: bytes) -> bytes:
    """The message's header section (a UTF-8 one is an RFC 6532 message: SMTPUTF8)."""
    return message.partition(b"\r\n\r\n")[0]


def _dot_stuffed(message: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, leading dots doubled, then CRLF.CRLF
    (RFC 5321 4.5.2), as smtplib's own data() does."""
    data = re.sub(rb"(?m)^\.", b"..", b"\r\n".join(message.splitlines()))
    return data + b"\r\n.\r\n"
