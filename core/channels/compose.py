"""Serialise one email: multipart/alternative (text + HTML), UTF-8, quoted-printable, CRLF.

Every header is built through the `email` package's structured API: an `EmailMessage`
with the SMTP policy holds them (`headerregistry.Address` for From/To, the registry's
parsers for the rest), and the policy folds them. That API refuses CR and LF in any
header value and in any address part, and `_header_bytes` refuses every other control
character and checks that each folded line but the first starts with white space, so a
patient's name, a subject or a `from` can never start a new header (issue #8: a first
name `Jean⏎Bcc: victim@evil.example` once did) — even one read from an old database row
imported before names were checked. A value refused here raises ValueError (the
dispatcher fails that delivery for good, reason "cannot build the email").

Addresses (`address`): a domain with accents (`clinique-é.ca`) is written in its IDNA
form (`xn--clinique--j4a.ca`, RFC 5890/5891 through the `idna` package, as httpx does)
in the header, and `envelope` gives the SMTP envelope the same; a local part with accents
(`josée@…`) can only travel as an internationalised email (RFC 6531/6532): its header is
written in UTF-8 (`email.policy.SMTPUTF8`) and the SMTP transport sends it with SMTPUTF8,
or fails that recipient when the server does not offer it (core.channels.smtp).

The Subject is written by `email.header.Header` (folded at spaces when ASCII, else the
whole value as UTF-8 encoded-words, RFC 2047), not by the policy's folding: that one split
"vous invite à" into an empty encoded-word `=?utf-8?q??=` (RFC 2047 §2 forbids it), left a
space before a fold next to an encoded-word, read back as two ("attend,  Marie-Ève"), and
moved a whole ASCII subject onto a continuation line, read back with a leading space.

`List-Unsubscribe` is the one header written by hand (`_list_unsubscribe`): the policy
would turn a line over 78 characters with no space to fold at into an RFC 2047
encoded-word (`=?utf-8?q?=3Chttps=3A//…?=`), which mail clients do not decode, and the
one-click unsubscribe bulk senders must offer (RFC 8058) would be lost. It is plain
ASCII in angle brackets, moved to a continuation line when it would not fit on the
first (RFC 5322's folding white space), whatever its length up to the 998-octet line.

Only the body is written by hand (two quoted-printable parts under a boundary of our
own): the stdlib generator costs several milliseconds a message, more than sending it.
The test suite parses every message back with the stdlib parser.
"""

from __future__ import annotations

import binascii
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy as _policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote

from core import textcheck
from core.reasons import Detail, detail

CRLF = b"\r\n"
POLICY = _policy.SMTP
POLICY_UTF8 = _policy.SMTPUTF8  # an address whose local part is not ASCII (RFC 6532)


def _refuse_controls(name: str, value: str) -> None:
    """ValueError for a control character (category Cc, or a Unicode line or paragraph
    separator) in a header value: the policy catches CR and LF, this the rest."""
    c = textcheck.first_control(value, textcheck.LINE_BREAKING)
    if c is not None:
        raise ValueError(f"the {name} header would contain the control character {textcheck.describe(c)}")


def to_address(value: str | Address, header: str = "To") -> Address:
    """An `Address` from 'Name <addr>' (or an Address, returned as is)."""
    if isinstance(value, Address):
        return value
    _refuse_controls(header, value)
    name, addr = parseaddr(value)
    if not addr:
        raise ValueError(f"the {header} header needs an email address, got {value!r}")
    return address(name, addr)


def domain_of(address: str | Address) -> str:
    if isinstance(address, Address):
        return address.domain or "localhost"
    addr = parseaddr(address)[1]
    return addr.rpartition("@")[2] or "localhost"


def message_id(key: str, sender: str | Address) -> str:
    """`<idempotency-key@sender-domain>`: stable across retries of one delivery."""
    return f"<{key}@{domain_of(sender)}>"


def envelope(addr: str) -> str:
    """`addr` with its domain in IDNA form (A-labels, RFC 5890/5891: `rene@clinique-é.ca` ->
    `rene@xn--clinique--j4a.ca`), as the SMTP envelope and the headers carry it; the local
    part as it is. ValueError (its words a `Detail`) for a domain that is no valid
    internationalised domain name."""
    local, at, domain = addr.rpartition("@")
    if not at or domain.isascii():
        return addr
    import idna  # only for a domain with accents: most emails never load it

    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise ValueError(detail(Detail.BAD_DOMAIN, address=addr)) from None
    return f"{local}@{ascii_domain}"


def needs_smtputf8(addr: str) -> bool:
    """Whether an address (its domain already in IDNA form) needs an SMTPUTF8 server: a
    local part that is not ASCII (RFC 6531)."""
    return not addr.isascii()


def address(name: str, addr: str) -> Address:
    """The `Address` of one recipient for a header (the name RFC 2047-encoded by the
    policy when it is not ASCII, the domain in IDNA form). ValueError for a control
    character in either part, or a domain that is no valid internationalised name."""
    _refuse_controls("address", name)
    _refuse_controls("address", addr)
    spec = envelope(addr)
    if spec.isascii():
        return Address(display_name=name, addr_spec=spec)
    # the parser refuses a local part that is not ASCII (an RFC 6532 address): its syntax is
    # checked with each such character as an ASCII letter, then it is given as it is
    local, _at, domain = spec.rpartition("@")
    if not local or not domain:
        raise ValueError(f"the address {addr!r} needs a local part and a domain")
    checked = Address(addr_spec="".join(c if c.isascii() else "x" for c in local) + "@" + domain)
    return Address(display_name=name, username=local, domain=checked.domain)


def _header_bytes(msg: EmailMessage) -> bytes:
    """The message's headers folded by the SMTP policy (an address header whose local part
    is not ASCII in UTF-8, by the SMTPUTF8 policy); ValueError if a folded header would
    hold a line that does not start with white space (a new header)."""
    out = []
    for name, value in msg.items():
        _refuse_controls(name, str(value))
        policy = POLICY
        if any(not a.username.isascii() for a in getattr(value, "addresses", ())):
            policy = POLICY_UTF8
        out.append(_one_header(name, policy.fold_binary(name, value)))
    return b"".join(out)


def _one_header(name: str, folded: bytes) -> bytes:
    """`folded` (a header and its CRLF), or ValueError if it would not be one header."""
    lines = folded[:-2].split(CRLF)
    if (
        not folded.endswith(CRLF)
        or any(b"\r" in ln or b"\n" in ln for ln in lines)
        or any(ln[:1] not in (b" ", b"\t") for ln in lines[1:])
    ):
        raise ValueError(f"the {name} header would not fold into one header")
    return folded


def _subject(subject: str) -> bytes:
    """The Subject header by `email.header.Header`: plain ASCII folded at its spaces, any
    other as UTF-8 encoded-words; lines of at most 76 characters where a fold can go,
    never an empty encoded-word, read back exactly (see the module's docstring)."""
    _refuse_controls("Subject", subject)
    if subject.isascii() and "=?" not in subject:  # "=?…?=" as text would be read as an encoded-word
        folded = Header(subject, "us-ascii", header_name="Subject").encode(splitchars=" ", linesep="\r\n")
        # kept when unfolding gives the subject back (RFC 5322 2.2.3) in lines of at most 78
        if folded.replace("\r\n", "") == subject and all(len(ln) <= 78 for ln in f"Subject: {folded}".split("\r\n")):
            return _one_header("Subject", f"Subject: {folded}\r\n".encode("ascii"))
    # not ASCII, or a word too long to fold at a space (the first line would be empty and
    # the subject read back with a space before it): encoded-words, cut anywhere
    folded = Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    return _one_header("Subject", f"Subject: {folded}\r\n".encode("ascii"))


MAX_LINE = 998  # octets in a header line, CRLF excluded (RFC 5322 2.1.1)
_URL_OUTSIDE = re.compile(r"[^\x21-\x7e]|[<>]")


def _list_unsubscribe(link: str) -> bytes:
    """`List-Unsubscribe: <link>` as plain ASCII (RFC 2369), never an encoded-word: on
    one line when it fits in 78 characters, else the link alone on a continuation line.
    A link with a character a URL cannot hold unescaped (space, non-ASCII, < or >) is
    percent-encoded; ValueError when it still would not fit in one line."""
    url = _URL_OUTSIDE.sub(lambda m: quote(m.group(), safe=""), link)
    one = f"List-Unsubscribe: <{url}>"
    if len(one) <= 78:
        return one.encode("ascii") + CRLF
    if len(url) + 3 > MAX_LINE:
        raise ValueError(f"the unsubscribe link is {len(url)} characters long, over what a header line can hold")
    return b"List-Unsubscribe:" + CRLF + f" <{url}>".encode("ascii") + CRLF


def _qp(text: str) -> bytes:
    data = text.replace("\r\n", "\n").encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).replace(b"\n", CRLF)


def build(
    *,
    sender: str | Address,
    to: str | Address,
    subject: str,
    text: str,
    html: str,
    key: str,
    language: str = "",
    list_unsubscribe: str = "",
    date: datetime | None = None,
) -> bytes:
    """The whole message as bytes, ready for `sendmail` or a .eml file. ValueError when
    a header value cannot be written safely (a control character, no address)."""
    frame = Frame(sender, language, bool(list_unsubscribe))
    return frame.build(
        to=to, subject=subject, text=text, html=html, key=key, list_unsubscribe=list_unsubscribe, date=date
    )


class Frame:
    """What the emails of one sender and language share, serialised once: the From
    header, the MIME structure and its boundary (a quoted-printable body never holds
    "=_", so one boundary serves every message). `build` writes one message with it;
    headers that vary (To, Subject, Date, Message-ID, List-Unsubscribe) are written per
    message through the same structured API, short plain ones straight."""

    def __init__(self, sender: str | Address, language: str = "", unsubscribe: bool = True):
        self.sender = to_address(sender, "From")
        _refuse_controls("Content-Language", language)
        self.boundary = "=_clinicast_" + uuid.uuid4().hex
        self._from = _headers([("From", self.sender)])
        tail = [("MIME-Version", "1.0")]
        if language:
            tail.append(("Content-Language", language))
        if unsubscribe:
            # RFC 8058: a mail client's one-click unsubscribe POSTs to that link
            tail.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        tail.append(("Content-Type", f'multipart/alternative; boundary="{self.boundary}"'))
        self._tail = _headers(tail)
        self.unsubscribe = unsubscribe
        b = self.boundary.encode()
        self._part = [
            b"--" + b + CRLF + f'Content-Type: text/{subtype}; charset="utf-8"'.encode() + CRLF
            + b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
            for subtype in ("plain", "html")
        ]  # fmt: skip
        self._end = b"--" + b + b"--" + CRLF
        self._subjects: dict[str, bytes] = {}

    def build(
        self,
        *,
        to: str | Address,
        subject: str,
        text: str,
        html: str,
        key: str,
        list_unsubscribe: str = "",
        date: datetime | None = None,
    ) -> bytes:
        when = date or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if bool(list_unsubscribe) != self.unsubscribe:
            raise ValueError("this frame is for emails " + ("with" if self.unsubscribe else "without") + " a link")
        rcpt = to_address(to, "To")
        _refuse_controls("List-Unsubscribe", list_unsubscribe)
        subj = self._subjects.get(subject)
        if subj is None:
            subj = _subject(subject)
            if len(self._subjects) < 64:  # the few subjects of a campaign; a per-patient one is not kept
                self._subjects[subject] = subj
        parts = [
            self._from,
            _headers([("To", rcpt)]),
            subj,
            _plain_headers([("Date", format_datetime(when)), ("Message-ID", message_id(key, self.sender))]),
            self._tail,
        ]
        if list_unsubscribe:
            parts.append(_list_unsubscribe(list_unsubscribe))
        parts.append(CRLF)
        for part, body in zip(self._part, (text, html), strict=True):
            parts.append(part)
            parts.append(_qp(body) + CRLF)  # the CRLF before a delimiter belongs to the delimiter
        parts.append(self._end)
        return b"".join(parts)


_PLAIN = re.compile(r"[A-Za-z0-9 ,:+<>@._-]*")


def _plain_headers(items: list[tuple[str, str]]) -> bytes:
    """Short headers of plain ASCII written as the policy would fold them: as they are."""
    if all(len(name) + 2 + len(value) <= 78 and _PLAIN.fullmatch(value) for name, value in items):
        return "".join(f"{name}: {value}\r\n" for name, value in items).encode("ascii")
    return _headers(items)


def _headers(items: Sequence[tuple[str, object]]) -> bytes:
    """Headers through the structured API and the policy's folding (`_header_bytes`)."""
    msg = EmailMessage(policy=POLICY)
    for name, value in items:
        msg[name] = value
    return _header_bytes(msg)
