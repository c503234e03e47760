"""Range and shape checks of config values that passed their type check (SPEC §8), and
the checks of what every email must carry (SPEC §10, CASL).

Each check appends one line naming the key and what was expected; `core.config` calls
`check_values()` and `check_identification()` once every section is read. A value that
would crash the daemon later (a NaN tick, a 1e308 lease, a port of 99999, a URL that is
not one) is refused here; a postgresql:// URL as libpq would read it (core.pgurl, which the
connection reads it with too). `email_problems()` is asked where email is sent, not at load;
`value_warnings()` by `config check`, of values that load but mislead (an hour off, a port
that will time out).
"""

from __future__ import annotations

import ipaddress
import math
import re
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from core import pgurl, textcheck
from core.folding import without_accents
from core.i18n import _

if TYPE_CHECKING:
    from core.config.types import Config

# seconds: (smallest, largest) that make sense for a clinic's scheduler
SECONDS = {
    ("scheduler", "tick_seconds"): (0.05, 3600),
    ("scheduler", "lease_seconds"): (0.1, 86400),
    ("scheduler", "heartbeat_seconds"): (0.05, 3600),
    ("scheduler", "backoff_base_seconds"): (0.01, 86400),
    ("scheduler", "backoff_max_seconds"): (0.01, 7 * 86400),
    ("email", "timeout_seconds"): (0.1, 3600),
    ("gateway", "timeout_seconds"): (0.1, 3600),
}
COUNTS = {
    ("email", "concurrency"): (1, 256),
    ("gateway", "concurrency"): (1, 1024),
    ("scheduler", "max_attempts"): (1, 1000),
    ("email", "unknown_outcome_retries"): (0, 100),
    ("database", "keep_deliveries_days"): (1, 36500),
    ("email", "max_per_minute"): (0, 1_000_000),
    ("email", "max_per_day"): (0, 100_000_000),
}


def check_values(values: dict[str, dict], problems: list[str]) -> None:
    for (section, key), (low, high) in SECONDS.items():
        v = values.get(section, {}).get(key)
        if v is None:
            continue
        if not math.isfinite(v) or not low <= v <= high:
            problems.append(
                _("{key}: expected a number of seconds from {low} to {high}, got {value}").format(
                    key=f"{section}.{key}", low=f"{low:g}", high=f"{high:g}", value=textcheck.quoted_value(v)
                )
            )
    for (section, key), (low, high) in COUNTS.items():
        v = values.get(section, {}).get(key)
        if v is not None and not low <= v <= high:
            problems.append(
                _("{key}: expected a whole number from {low} to {high}, got {value}").format(
                    key=f"{section}.{key}", low=low, high=high, value=textcheck.quoted_value(v)
                )
            )
    port = values.get("email", {}).get("port")
    if port is not None and not 1 <= port <= 65535:
        problems.append(
            _("email.port: expected a port from 1 to 65535, got {value}").format(value=textcheck.quoted_value(port))
        )
    sender = values.get("email", {}).get("from")
    if sender is not None:
        _check_from(sender, problems)
    host = values.get("email", {}).get("host")
    if host is not None:
        _check_host("email.host", host, problems)
    # what every email's headers or identification carry: one line each (the subject
    # once carried a line break in the clinic's name as a space)
    for key in ("name", "address", "phone"):
        v = values.get("clinic", {}).get(key)
        if isinstance(v, str) and textcheck.first_control(v, textcheck.LINE_BREAKING) is not None:
            problems.append(
                _("{key}: contains a line break or control character; expected one line of text").format(
                    key=f"clinic.{key}"
                )
            )
    url = values.get("email", {}).get("unsubscribe_url")
    if isinstance(url, str) and url and any(ord(c) <= 32 or ord(c) == 127 for c in url):
        problems.append(
            _("{key}: contains spaces or control characters: {value}").format(
                key="email.unsubscribe_url", value=textcheck.quoted_value(url)
            )
        )
    tz = values.get("clinic", {}).get("timezone")
    if tz is not None and not tz.strip():
        problems.append(_("clinic.timezone: must not be empty; expected e.g. “America/Toronto”"))
    gw = values.get("gateway", {})
    if gw.get("url"):
        _check_http_url("gateway.url", gw["url"], problems)
    app_url = values.get("clinic", {}).get("app_url")
    if app_url:
        _check_http_url("clinic.app_url", app_url, problems)


def check_dkim(email: dict, base, problems: list[str]) -> None:
    """`[email] dkim_key_file`, `dkim_selector`, `dkim_domain`: all three or none, the
    selector and domain DNS names, the key file's path made absolute. The file itself is
    a secret (core.config.secrets): missing, unreadable, empty or open to others, it is
    the sender's problem (its email channel waits), not every staff member's."""
    from pathlib import Path

    keys = ("dkim_key_file", "dkim_selector", "dkim_domain")
    given = [k for k in keys if email.get(k)]
    if not given:
        return
    if len(given) != len(keys):
        missing = ", ".join(f"email.{k}" for k in keys if k not in given)
        problems.append(
            _("{key}: DKIM signing needs {missing} too (or none of the three)").format(
                key=f"email.{given[0]}", missing=missing
            )
        )
        return
    for k in ("dkim_selector", "dkim_domain"):
        if not all(part and part.replace("-", "").replace("_", "").isalnum() for part in email[k].split(".")):
            problems.append(
                _("{key}: expected DNS labels like “clinic2026” or “example.org”, got {value}").format(
                    key=f"email.{k}", value=textcheck.quoted_value(email[k])
                )
            )
    path = Path(email["dkim_key_file"])
    email["dkim_key_file"] = str(path if path.is_absolute() else Path(base) / path)


def _check_from(sender: str, problems: list[str]) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in sender):
        problems.append(_("email.from: contains a line break or control character; expected “Name <address@domain>”"))
        return
    _name, addr = parseaddr(sender)
    local, at, domain = addr.rpartition("@")
    if not (at and local and domain and "." not in (domain[0], domain[-1]) and " " not in addr):
        problems.append(
            _("email.from: expected an address such as “Clinic <no-reply@example.org>”, got {value}").format(
                value=textcheck.quoted_value(sender)
            )
        )
        return
    if not addr.isascii():
        problems.append(_non_ascii_from(local, domain))


def _non_ascii_from(local: str, domain: str) -> str:
    """Why an address with accents cannot go out (every email would fail when built: mail
    servers take ASCII before the @, and a domain in its IDNA form), with what to write.
    The name before the address may have accents: it is encoded in the header."""
    ascii_domain = _idna(domain)
    if not local.isascii():
        plain = _ascii_letters(local)
        if plain is not None and ascii_domain is not None:
            return _(
                "email.from: {address} has accented or non-ASCII letters before the @, which mail servers refuse; "
                "write the address in ASCII, e.g. {suggestion}"
            ).format(address=f"{local}@{domain}", suggestion=f"{plain}@{ascii_domain}")
        return _(
            "email.from: {address} has accented or non-ASCII letters before the @, which mail servers refuse; "
            "write the address in ASCII"
        ).format(address=f"{local}@{domain}")
    if ascii_domain is None:
        return _("email.from: the domain {domain} is not a valid domain name; write the clinic's real domain").format(
            domain=domain
        )
    return _(
        "email.from: the domain {domain} has accented letters, which an email's headers cannot carry; "
        "write the domain as {ascii_domain} (its IDNA form): {address}"
    ).format(domain=domain, ascii_domain=ascii_domain, address=f"{local}@{ascii_domain}")


def _idna(domain: str) -> str | None:
    """`domain` as DNS writes it (« clinique-jérôme.ca » → xn--clinique-jrme-khb0o.ca)."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _ascii_letters(text: str) -> str | None:
    """`text` without its accents (« réception » → reception), or None if letters remain
    that have no ASCII form."""
    plain = without_accents(text)
    return plain if plain.isascii() else None


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _check_host(key: str, host: str, problems: list[str]) -> None:
    """A host name (smtp.example.org, localhost) or an IP address, nothing around it: a
    stray space passed, and each patient's attempts were then spent on "Name or service
    not known"."""
    if _is_ip(host) or _is_host_name(host):
        return
    if host.strip() != host and (_is_host_name(host.strip()) or _is_ip(host.strip())):
        problems.append(
            _("{key}: {value} has a space before or after it; write {host}").format(
                key=key, value=textcheck.quoted_value(host), host=textcheck.quoted_value(host.strip())
            )
        )
        return
    problems.append(
        _("{key}: expected a host name or IP address such as smtp.example.org or 127.0.0.1, got {value}").format(
            key=key, value=textcheck.quoted_value(host)
        )
    )


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host_name(text: str) -> bool:
    name = _idna(text.removesuffix("."))
    return bool(name) and len(name or "") <= 253 and all(_HOST_LABEL.fullmatch(x) for x in (name or "").split("."))


def _check_http_url(key: str, url: str, problems: list[str]) -> None:
    try:
        u = urlsplit(url)
        u.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError:
        problems.append(
            _("{key}: not a valid URL (its host or port cannot be read): {value}").format(
                key=key, value=textcheck.quoted_value(url)
            )
        )
        return
    if u.scheme not in ("http", "https") or not u.hostname:
        problems.append(
            _("{key}: expected an http:// or https:// URL with a host, got {value}").format(
                key=key, value=textcheck.quoted_value(url)
            )
        )
    elif any(ord(c) <= 32 or ord(c) == 127 for c in url):
        problems.append(
            _("{key}: contains spaces or control characters: {value}").format(
                key=key, value=textcheck.quoted_value(url)
            )
        )


def check_postgres_url(url: str, problems: list[str]) -> None:
    """A postgresql:// URL whose port is a number and whose options libpq knows."""
    if pgurl.userinfo_cut_short(url):  # nothing of what follows the / ? or # is said: it may be a password
        problems.append(
            _(
                "database.url: the user name or password holds a / ? # or @ written as is: write it "
                "percent-encoded (/ as %2F, ? as %3F, # as %23, @ as %40, % as %25, : as %3A)"
            )
        )
        return
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError:
        netloc = url.split("//", 1)[-1].split("/", 1)[0]
        problems.append(
            _("database.url: the port in {host} is not a number from 1 to 65535").format(
                host=textcheck.quoted_value(netloc.rpartition("@")[2])
            )
        )
        return
    if port is not None and not 1 <= port <= 65535:
        problems.append(_("database.url: port {port} is not from 1 to 65535").format(port=port))
    # a stray space in the host or the name: libpq's "could not translate host name", read
    # as a server that does not answer (a password may hold spaces: it is left out)
    where = u.netloc.rpartition("@")[2] + u.path
    if any(ord(c) <= 32 or ord(c) == 127 for c in where):
        problems.append(
            _("{key}: contains spaces or control characters: {value}").format(
                key="database.url", value=textcheck.quoted_value(where)
            )
        )
    try:
        options = parse_qsl(u.query, keep_blank_values=True, strict_parsing=bool(u.query))
    except ValueError:
        problems.append(
            _("database.url: cannot read the options {options}; expected ?key=value&key=value").format(
                options=textcheck.quoted_value(u.query)
            )
        )
        return
    if not u.path.strip("/") and not any(k == "dbname" and v for k, v in options):
        problems.append(_("database.url: expected postgresql://USER@HOST/DATABASE (the database name is missing)"))
    for k, v in options:
        if k == "port":  # libpq's list for several hosts: 5432,5433 (an empty one is its default)
            for part in v.split(","):
                if part and not (part.isascii() and part.isdigit() and 1 <= int(part) <= 65535):
                    problems.append(
                        _("database.url: port {port} is not from 1 to 65535").format(port=textcheck.quoted_value(part))
                    )
        elif k == "replication":  # libpq's, for replication tools: not one ordinary statements run on
            problems.append(
                _(
                    "database.url: clinicast needs an ordinary connection, not a replication one: remove {option}"
                ).format(option=textcheck.quoted_value(f"{k}={v}"))
            )
        elif pgurl.libpq_reading(k, v)[0] not in pgurl.OPTIONS:
            near = pgurl.nearest(k)
            if near:
                problems.append(
                    _("database.url: unknown option {option}; did you mean {name}?").format(
                        option=textcheck.quoted_value(k), name=near
                    )
                )
            else:
                problems.append(
                    _(
                        "database.url: unknown option {option}; expected one of libpq's connection parameters "
                        "(host, port, sslmode, sslrootcert, connect_timeout, application_name, options, ...)"
                    ).format(option=textcheck.quoted_value(k))
                )


def check_identification(data: dict, email: dict, clinic: dict, problems: list[str]) -> None:
    """The form of what every email carries (SPEC §10, CASL), checked at load; whether an
    SMTP setup has all of it is `email_problems`, checked where email is sent."""
    if isinstance(data.get("email"), dict) and "list_unsubscribe" in data["email"]:
        # replaced, not merely unknown: say by what
        problems[:] = [p for p in problems if not p.startswith("email.list_unsubscribe:")]
        problems.append(
            _(
                "email.list_unsubscribe: no longer used; every email now carries a personal link "
                "<unsubscribe_url>/<token>: remove list_unsubscribe and set email.unsubscribe_url"
            )
        )
    url = email.get("unsubscribe_url") or ""
    if not isinstance(url, str) or not url:
        return
    # every email carries List-Unsubscribe-Post (one-click), whose List-Unsubscribe "MUST
    # contain one HTTPS URI" (RFC 8058 §3.1). Plain http only on loopback: no patient's
    # mail client can follow such a link (only this machine: the tests' gateway, a try-out)
    try:
        u = urlsplit(url)
        host = (u.hostname or "").lower()
    except ValueError:
        u, host = None, ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        loopback = False
    if not host or not u or not (u.scheme == "https" or (u.scheme == "http" and loopback)):
        problems.append(
            _(
                "email.unsubscribe_url: expected an https:// URL (the unsubscribe page; one-click "
                "unsubscribe needs HTTPS, RFC 8058), got {value}"
            ).format(value=textcheck.quoted_value(url))
        )


def email_problems(config: Config) -> list[str]:
    """What an SMTP setup lacks to send a lawful email (SPEC §10, CASL): the unsubscribe
    page, and the clinic's postal address and phone for the identification every email
    ends with. Like the secrets (SPEC §13), these matter only where email is sent: the
    SMTP transport refuses to start without them and `config check` lists them, while
    staff can still list, create, assign and start."""
    if config.email.transport != "smtp":
        return []
    where = f"{config.path}: " if config.path else ""
    problems = []
    if not config.email.unsubscribe_url:
        problems.append(
            where
            + _(
                'email.unsubscribe_url: required when email.transport = "smtp" (the unsubscribe page the '
                "patient app provider hosts; each email links <unsubscribe_url>/<token>)"
            )
        )
    for key in ("address", "phone"):
        if not getattr(config.clinic, key).strip():
            problems.append(
                where
                + _(
                    '{key}: required when email.transport = "smtp" (every email ends with the '
                    "clinic's name, postal address and phone)"
                ).format(key=f"clinic.{key}")
            )
    return problems


IMPLICIT_TLS_PORTS = frozenset({465})
STARTTLS_PORTS = frozenset({25, 587})


def security_warnings(config: Config) -> list[str]:
    """`[email] security` that does not match its well-known port: "starttls" (or "none")
    to 465, which waits for the client's TLS before greeting (every connection then times
    out), or "tls" to 587 or 25, which greet in plain text. A warning: a relay may use a
    port otherwise, and the email channel pauses with the same fix if it does not."""
    email = config.email
    if email.transport != "smtp":
        return []
    if email.security != "tls" and email.port in IMPLICIT_TLS_PORTS:
        return [
            _(
                "email.port = {port} is the implicit TLS port: the server waits for TLS before it greets, and "
                'email.security = "{security}" waits for its greeting; set email.security = "tls"'
            ).format(port=email.port, security=email.security)
        ]
    if email.security == "tls" and email.port in STARTTLS_PORTS:
        return [
            _(
                'email.port = {port} greets in plain text, then offers STARTTLS: email.security = "tls" '
                'expects TLS at once; set email.security = "starttls" (or email.port = 465)'
            ).format(port=email.port)
        ]
    return []


def value_warnings(config: Config) -> list[str]:
    """What `config check` warns of the file's own values, after the host's setup
    (core.config.access.setup_warnings): an `[email] security` that does not match its
    port (`security_warnings`), and a clinic time zone with no daylight saving time
    (« EST »: an hour off half the year)."""
    warnings = security_warnings(config)
    zone = config.clinic.timezone
    if "/" not in zone and zone.upper() not in ("UTC", "ETC/UTC"):
        warnings.append(
            _(
                "clinic.timezone: {zone} keeps no daylight saving time, so the clinic's hours would be an hour "
                "off half the year; write a zone such as America/Toronto"
            ).format(zone=zone)
        )
    return warnings


__all__ = [
    "check_dkim",
    "check_identification",
    "check_postgres_url",
    "check_values",
    "email_problems",
    "security_warnings",
    "value_warnings",
]
