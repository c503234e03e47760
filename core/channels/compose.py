"""Serialise one email: multipart/alternative (text + HTML), UTF-8, quoted-printable, CRLF.

Written by hand rather than with `email.message.EmailMessage`: the stdlib builder
costs about 3 ms a message here, more than sending it; this costs a few tens of µs and
gives the same bytes a policy=SMTP serialisation would (headers RFC 2047-encoded and
folded, CRLF line ends, lines under 78 characters). The test suite parses every
message back with the stdlib parser.
"""

from __future__ import annotations

import binascii
import uuid
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

CRLF = b"\r\n"


def domain_of(address: str) -> str:
    addr = parseaddr(address)[1]
    return addr.rpartition("@")[2] or "localhost"


def message_id(key: str, sender: str) -> str:
    """`<idempotency-key@sender-domain>`: stable across retries of one delivery."""
    return f"<{key}@{domain_of(sender)}>"


def _header(name: str, value: str) -> bytes:
    if value.isascii() and len(name) + len(value) + 2 <= 78:
        return f"{name}: {value}".encode("ascii") + CRLF
    if value.isascii():
        enc = Header(value, "us-ascii", header_name=name).encode(linesep="\r\n")
    else:
        enc = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {enc}".encode("ascii") + CRLF


def _address(value: str) -> str:
    """'Name <addr>' with the name RFC 2047-encoded when it is not ASCII."""
    name, addr = parseaddr(value)
    if not addr:
        return value
    return formataddr((name, addr), charset="utf-8")


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", CRLF)


def build(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    key: str,
    language: str = "",
    list_unsubscribe: str = "",
    date: datetime | None = None,
) -> bytes:
    """The whole message as bytes, ready for `sendmail` or a .eml file."""
    boundary = "=_clinicast_" + uuid.uuid4().hex
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    parts = [
        _header("From", _address(sender)),
        _header("To", _address(to)),
        _header("Subject", subject),
        _header("Date", format_datetime(when)),
        _header("Message-ID", message_id(key, sender)),
        b"MIME-Version: 1.0" + CRLF,
    ]
    if language:
        parts.append(_header("Content-Language", language))
    if list_unsubscribe:
        # one line (an ASCII URL of a few dozen characters is far under 998): folded, the
        # value would start with a space that some clients keep and then fail to parse
        value = f"<{list_unsubscribe}>"
        parts.append(
            f"List-Unsubscribe: {value}".encode() + CRLF if value.isascii() else _header("List-Unsubscribe", value)
        )
        # RFC 8058: a mail client's one-click unsubscribe POSTs to that link
        parts.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" + CRLF)
    parts.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"'.encode() + CRLF)
    parts.append(CRLF)
    b = boundary.encode()
    for subtype, body in (("plain", text), ("html", html)):
        parts.append(b"--" + b + CRLF)
        parts.append(f'Content-Type: text/{subtype}; charset="utf-8"'.encode() + CRLF)
        parts.append(b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF)
        parts.append(_qp(body) + CRLF)  # the CRLF before a delimiter belongs to the delimiter
    parts.append(b"--" + b + b"--" + CRLF)
    return b"".join(parts)


def address(name: str, addr: str) -> str:
    """'Name <addr>' for a header (the name RFC 2047-encoded when it is not ASCII)."""
    return formataddr((name, addr), charset="utf-8")
