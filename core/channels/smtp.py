"""SMTP (`[email] transport = "smtp"`): STARTTLS, implicit TLS or none, optional login.

A small pool of open connections (one per concurrent sender, at most `concurrency`):
each is reused for many messages; a connection the server dropped (idle timeout, 421,
reset) is replaced and the message tried once more on a fresh one before the
dispatcher is told to retry later.

Classification: anything that goes wrong while connecting (refused, TLS, greeting,
login) or a 4xx answer is retried — it is not the message's fault; a 5xx answer to
MAIL/RCPT/DATA is final, with the server's text as the reason.
"""

from __future__ import annotations

import queue
import smtplib
import socket
import ssl
import threading

from .base import Outcome, one_line


class _ConnectFailed(Exception):
    pass


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
        password: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 2,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ):
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"security must be starttls, tls or none, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.connections_opened = 0  # for tests and the bench: reuse is visible

    @classmethod
    def from_settings(cls, email, ssl_context: ssl.SSLContext | None = None) -> SmtpMailer:
        return cls(
            email.host,
            email.port,
            security=email.security,
            username=email.username,
            password=email.password,
            timeout=email.timeout_seconds,
            concurrency=email.concurrency,
            ssl_context=ssl_context,
        )

    # --- connections ----------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        where = f"{self.host}:{self.port}"
        conn = None
        try:
            if self.security == "tls":
                conn = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self._context(),
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
            if self.security == "starttls":
                conn.ehlo()
                if not conn.has_extn("starttls"):
                    raise _ConnectFailed(
                        f'SMTP server {where} does not offer STARTTLS (set email.security = "tls" or "none")'
                    )
                conn.starttls(context=self._context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except _ConnectFailed:
            self._quit(conn)
            raise
        except smtplib.SMTPAuthenticationError as e:
            self._quit(conn)
            raise _ConnectFailed(
                f"SMTP login as {self.username!r} refused by {where}: {e.smtp_code} {_decode(e.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as e:
            self._quit(conn)
            raise _ConnectFailed(f"SMTP server {where} answered {e.smtp_code} {_decode(e.smtp_error)}") from None
        except ssl.SSLError as e:
            self._quit(conn)
            raise _ConnectFailed(f"TLS with SMTP server {where} failed: {e.reason or e}") from None
        except (OSError, smtplib.SMTPException) as e:
            self._quit(conn)
            raise _ConnectFailed(
                f"cannot connect to SMTP server {where}: {getattr(e, 'strerror', None) or e or type(e).__name__}"
            ) from None
        with self._lock:
            self.connections_opened += 1
        return conn

    @staticmethod
    def _quit(conn: smtplib.SMTP | None) -> None:
        if conn is None:
            return
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection: nothing to save
            pass

    def _take(self) -> smtplib.SMTP | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return None

    def _give(self, conn: smtplib.SMTP) -> None:
        if self._closed:
            self._quit(conn)
        else:
            self._idle.put(conn)

    # --- sending --------------------------------------------------------------------

    def send(self, message: bytes, sender: str, to: list[str], key: str) -> Outcome:
        conn = self._take()
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                try:
                    conn = self._connect()
                except _ConnectFailed as e:
                    return Outcome.retry(one_line(e))
                reused = False
            try:
                conn.sendmail(sender, to, message)
            except smtplib.SMTPRecipientsRefused as e:
                self._give(conn)
                code, msg = next(iter(e.recipients.values()), (550, b"recipient refused"))
                return self._answer(code, f"SMTP server refused {', '.join(e.recipients)}: {_decode(msg)}")
            except smtplib.SMTPResponseException as e:
                if e.smtp_code == 421:
                    self._quit(conn)
                    conn = None
                    if reused:
                        continue
                    return Outcome.retry(
                        one_line(f"SMTP server closed the connection: {e.smtp_code} {_decode(e.smtp_error)}")
                    )
                self._give(conn)
                text = f"SMTP server answered {e.smtp_code} {_decode(e.smtp_error)}"
                if isinstance(e, smtplib.SMTPSenderRefused):
                    # MAIL FROM refused: the sender or the session (auth, TLS) is wrong, not
                    # this message; retried, so fixing the config saves the campaign
                    return Outcome.retry(one_line(text))
                return self._answer(e.smtp_code, text)
            except (smtplib.SMTPServerDisconnected, OSError) as e:
                # dropped, reset or timed out: a stale pooled connection gets one fresh try
                self._quit(conn)
                conn = None
                if reused:
                    continue
                what = "timed out" if isinstance(e, (socket.timeout, TimeoutError)) else "connection lost"
                return Outcome.retry(one_line(f"SMTP {what}: {e or type(e).__name__}"))
            except (UnicodeError, ValueError) as e:
                self._give(conn)
                return Outcome.final(one_line(f"cannot send to {', '.join(to)}: {e}"))
            else:
                self._give(conn)
                return Outcome.success()
        return Outcome.retry("SMTP connection lost twice in a row")

    @staticmethod
    def _answer(code: int, text: str) -> Outcome:
        return Outcome.final(one_line(text)) if 500 <= code < 600 else Outcome.retry(one_line(text))

    def close(self) -> None:
        self._closed = True
        while True:
            conn = self._take()
            if conn is None:
                break
            try:
                conn.quit()
            except Exception:  # noqa: BLE001 - QUIT on a dead connection: just close it
                self._quit(conn)
