"""A postgresql:// URL as libpq reads it, in one place for the connection (core.db), for
every word said of it (core.dberrors, core.context, core.config.secrets, `config check`,
the daemon's log) and for the config's check of it (core.config.checks).

- `params(url)`: the connection parameters (user, password, host, port, dbname, then the
  ?key=value options over them, as libpq does).
- `redacted(url)`: the URL fit for a log or a status line, every password as ***.
- `OPTIONS`: libpq's connection parameters; `nearest(key)` the one a typo or another
  program's spelling (JDBC's ?ssl=, psql's ?database=) meant; `libpq_reading(key, value)`
  the one spelling of another program libpq itself takes (JDBC's ssl=true).
- `userinfo_cut_short(url)`: a / ? # or @ written as is in the user name or password,
  which ends the URL's host part there (it must be percent-encoded).
"""

from __future__ import annotations

import difflib
from urllib.parse import parse_qsl, unquote, urlsplit

# libpq's connection parameters (PostgreSQL 18's libpq-connect "Parameter Key Words",
# the libpq psycopg[binary] ships): a postgresql:// URL may carry each as ?key=value,
# e.g. ?host=/run/postgresql (a socket in another folder) and ?port=5433; anything else is
# a typo, said with the nearest of these
OPTIONS = frozenset(
    "host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout "
    "client_encoding options application_name fallback_application_name keepalives keepalives_idle "
    "keepalives_interval keepalives_count tcp_user_timeout gssencmode sslmode sslnegotiation sslcompression "
    "sslcert sslkey sslkeylogfile sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer "
    "ssl_min_protocol_version ssl_max_protocol_version min_protocol_version max_protocol_version krbsrvname "
    "gsslib gssdelegation service target_session_attrs load_balance_hosts oauth_issuer oauth_client_id "
    "oauth_client_secret oauth_scope".split()
)
# other programs' spellings, said with libpq's (JDBC's ssl, currentSchema; psql's -d)
SPELLINGS = {
    "ssl": "sslmode",
    "requiressl": "sslmode",
    "database": "dbname",
    "db": "dbname",
    "username": "user",
    "appname": "application_name",
    "search_path": "options=-csearch_path%3DSCHEMA",
    "schema": "options=-csearch_path%3DSCHEMA",
    "currentschema": "options=-csearch_path%3DSCHEMA",
}
# the options whose value is a secret: never shown
SECRET_OPTIONS = frozenset({"password", "sslpassword", "oauth_client_secret"})


def libpq_reading(key: str, value: str) -> tuple[str, str]:
    """An option as libpq takes it: JDBC's ssl=true is sslmode=require, every other one
    as written."""
    if key == "ssl" and value == "true":
        return "sslmode", "require"
    return key, value


def nearest(key: str) -> str | None:
    """The libpq option an unknown `key` most likely meant (another program's spelling of
    it, or the closest name), None when none is close."""
    if key.lower() in SPELLINGS:
        return SPELLINGS[key.lower()]
    near = difflib.get_close_matches(key.lower(), sorted(OPTIONS), n=1, cutoff=0.6)
    return near[0] if near else None


def userinfo_cut_short(url: str) -> bool:
    """True when a / ? # typed as is in the user name or password ends the URL's host part
    before its @: the rest would be read as a port, a path, options (and shown)."""
    rest = url.split("//", 1)[-1]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return "@" in rest[cut:]


def params(url: str) -> dict[str, str]:
    """A postgresql:// URL's connection parameters as libpq reads them: the user,
    password, host, port and database name written in the URL, then its ?key=value
    options, a later one replacing an earlier (libpq connects to ?host=/run/postgresql
    over the URL's host, as ?user= over its user). One reading for the connection and
    for every word said of it (the role named in a fix, the service account). A host
    may be a socket folder percent-encoded (postgresql://%2Frun%2Fpostgresql/clinic).
    A port that is not a number is passed on as written (config's check refuses it)."""
    u = urlsplit(url)
    found: dict[str, str] = {}
    if u.username:
        found["user"] = unquote(u.username)
    if u.password:
        found["password"] = unquote(u.password)
    host, port = u.netloc.rpartition("@")[2], ""
    if ":" in host.rpartition("]")[2]:  # after an IPv6 address's brackets
        host, _colon, port = host.rpartition(":")
    host = unquote(host.removeprefix("[").removesuffix("]"))
    if host:
        found["host"] = host
    if port:
        found["port"] = port
    name = unquote(u.path.lstrip("/"))
    if name:
        found["dbname"] = name
    for key, value in parse_qsl(u.query):
        key, value = libpq_reading(key, value)
        found[key] = value
    return found


def redacted(url: str) -> str:
    """A database URL fit for a log or a status line: its password becomes ***, the
    one written before the host and libpq's ?password=, ?sslpassword= and
    ?oauth_client_secret= alike."""
    u = urlsplit(url)
    head, mark, rest = url.partition("?")  # not urlunsplit: it drops the // of postgresql:///db
    if u.password:
        head = head.replace(f":{u.password}@", ":***@", 1)
    if u.query:
        query, hash_mark, fragment = rest.partition("#")
        parts = [
            f"{key}=***" if key in SECRET_OPTIONS and value else part
            for part in query.split("&")
            for key, _eq, value in [part.partition("=")]
        ]
        rest = "&".join(parts) + hash_mark + fragment
    return head + mark + rest


__all__ = [
    "OPTIONS",
    "SECRET_OPTIONS",
    "SPELLINGS",
    "libpq_reading",
    "nearest",
    "params",
    "redacted",
    "userinfo_cut_short",
]
