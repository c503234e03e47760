"""Load and validate clinicast's one TOML file (SPEC §8).

Every problem is collected with its key path and reported together; unknown keys are
refused so a typo never goes unnoticed. Secrets come from an environment variable or
a file, never inline.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import secrets
from .config_checks import check_postgres_url, check_values
from .errors import ConfigError

PERMISSIONS = ("campaigns", "admin")
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    phone: str = ""
    address: str = ""
    app_url: str = "https://app.example.org/join"
    timezone: str = "America/Toronto"
    default_language: str = "fr"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    group: str = ""  # the OS group that shares a SQLite database folder (SPEC §13)


@dataclass(frozen=True)
class EmailSettings:
    transport: str = "smtp"
    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_secret: secrets.SecretRef | None = None  # read when the SMTP transport is built
    sender: str = "clinicast <no-reply@localhost>"
    unsubscribe_url: str = ""  # each email's personal link is <unsubscribe_url>/<token> (SPEC §10)
    path: str = ""
    timeout_seconds: float = 30  # the overall deadline of one SMTP transaction
    concurrency: int = 2
    unknown_outcome_retries: int = 1  # an email whose outcome is unknown is sent again at most this often

    @property
    def password(self) -> str | None:
        """Read now, by whoever builds the transport (core.secrets); raises ConfigError."""
        return secrets.resolve(self.password_secret)


@dataclass(frozen=True)
class GatewaySettings:
    transport: str = "http"
    url: str = ""
    token_secret: secrets.SecretRef | None = None  # read when the HTTP transport is built
    timeout_seconds: float = 10
    concurrency: int = 16
    path: str = ""

    @property
    def token(self) -> str | None:
        """Read now, by whoever builds the transport (core.secrets); raises ConfigError."""
        return secrets.resolve(self.token_secret)


@dataclass(frozen=True)
class SchedulerSettings:
    embedded: str = "auto"
    tick_seconds: float = 5
    lease_seconds: float = 60
    max_attempts: int = 8
    backoff_base_seconds: float = 30
    backoff_max_seconds: float = 3600
    heartbeat_seconds: float = 15


@dataclass(frozen=True)
class SendingSettings:
    """When emails and pushes may leave (SPEC §11), as written; core.sending_hours reads them."""

    hours: str = "09:00-20:00"
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class User:
    login: str
    name: str
    permissions: frozenset[str]
    language: str = ""  # the TUI's and messages' language; "" = [clinic] default_language
    email: str = ""  # where this staff member's test sends go
    app_id: str = ""  # their own app account, for broadcast test sends


@dataclass(frozen=True)
class Config:
    path: Path | None
    clinic: ClinicSettings
    database: DatabaseSettings
    email: EmailSettings
    gateway: GatewaySettings
    scheduler: SchedulerSettings
    sending: SendingSettings = field(default_factory=SendingSettings)
    users: dict[str, User] = field(default_factory=dict)


# --- schema -----------------------------------------------------------------------
# key -> (type, default); a default of REQUIRED means the key must be present.
REQUIRED = object()

SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "clinic": {
        "name": (str, REQUIRED),
        "phone": (str, ""),
        "address": (str, ""),
        "app_url": (str, "https://app.example.org/join"),
        "timezone": (str, "America/Toronto"),
        "default_language": (str, "fr"),
    },
    "database": {"url": (str, REQUIRED), "group": (str, "")},
    "email": {
        "transport": (str, "smtp"),
        "host": (str, "localhost"),
        "port": (int, 587),
        "security": (str, "starttls"),
        "username": (str, ""),
        "password_env": (str, ""),
        "password_file": (str, ""),
        "from": (str, "clinicast <no-reply@localhost>"),
        "unsubscribe_url": (str, ""),
        "unknown_outcome_retries": (int, 1),
        "path": (str, ""),
        "timeout_seconds": (float, 30.0),
        "concurrency": (int, 2),
    },
    "gateway": {
        "transport": (str, "http"),
        "url": (str, ""),
        "token_env": (str, ""),
        "token_file": (str, ""),
        "timeout_seconds": (float, 10.0),
        "concurrency": (int, 16),
        "path": (str, ""),
    },
    "scheduler": {
        "embedded": (str, "auto"),
        "tick_seconds": (float, 5.0),
        "lease_seconds": (float, 60.0),
        "max_attempts": (int, 8),
        "backoff_base_seconds": (float, 30.0),
        "backoff_max_seconds": (float, 3600.0),
        "heartbeat_seconds": (float, 15.0),
    },
    "sending": {
        "hours": (str, "09:00-20:00"),
        "days": (list, ["mon", "tue", "wed", "thu", "fri", "sat"]),
    },
}
USER_SCHEMA = {
    "name": (str, REQUIRED),
    "permissions": (list, REQUIRED),
    "language": (str, ""),
    "email": (str, ""),
    "app_id": (str, ""),
}
CHOICES = {
    ("clinic", "default_language"): LANGUAGES,
    ("email", "transport"): ("smtp", "maildir"),
    ("email", "security"): ("starttls", "tls", "none"),
    ("gateway", "transport"): ("http", "log"),
    ("scheduler", "embedded"): ("auto", "always", "never"),
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list", bool: "true or false"}


def discover(explicit: str | os.PathLike | None = None) -> Path:
    """The config path: --config, else $CLINICAST_CONFIG, ./clinicast.toml, the user's
    config folder, /etc/clinicast/config.toml (the first that exists)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CLINICAST_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    candidates = [
        Path("clinicast.toml"),
        Path(platformdirs.user_config_dir("clinicast")) / "config.toml",
        Path("/etc/clinicast/config.toml"),
    ]
    for c in candidates:
        if c.exists():
            return c
    raise ConfigError(
        None,
        [
            "no config file found: pass --config PATH, set CLINICAST_CONFIG, or create "
            "./clinicast.toml (see config.example.toml)"
        ],
    )


def load(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Config:
    """Read, validate and resolve the config file; raise ConfigError listing every problem."""
    p = discover(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(p, [f"cannot read: {e.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(p, [f"not UTF-8 text (byte {e.start})"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(p, [f"TOML syntax error: {e}"]) from None
    except RecursionError:
        raise ConfigError(p, ["TOML nested too deeply; expected the tables of config.example.toml"]) from None
    return from_dict(data, p, os.environ if env is None else env)


def from_dict(data: dict, path: Path | None = None, env: dict[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    problems: list[str] = []
    base = path.parent if path else Path.cwd()

    for key in data:
        if key not in SCHEMA and key != "users":
            problems.append(
                f"unknown section [{key}]; expected one of " + ", ".join(f"[{k}]" for k in [*SCHEMA, "users"])
            )
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            problems.append(f"{section}: expected a table [{section}]")
            table = {}
        if section in ("clinic", "database") and section not in data:
            problems.append(f"[{section}] is missing")
            values[section] = {}
            continue
        values[section] = _section(section, table, keys, problems)

    for (section, key), allowed in CHOICES.items():
        v = values.get(section, {}).get(key)
        if v is not None and v not in allowed:
            problems.append(f"{section}.{key}: expected one of {', '.join(map(repr, allowed))}, got {v!r}")

    clinic = values.get("clinic", {})
    if clinic.get("timezone"):
        try:
            ZoneInfo(clinic["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"clinic.timezone: unknown time zone {clinic['timezone']!r}; expected e.g. 'America/Toronto'"
            )

    db = values.get("database", {})
    if db.get("url"):
        db["url"] = _resolve_db_url(db["url"], base, problems)

    email = values["email"]
    password = secrets.ref("email", "password", email, env, base, problems, path)
    _check_identification(data, email, clinic, problems)
    if email["transport"] == "maildir" and not email["path"]:
        problems.append('email.path: required when email.transport = "maildir" (the folder to write .eml files to)')
    gw = values["gateway"]
    token = secrets.ref("gateway", "token", gw, env, base, problems, path)
    if gw["transport"] == "http" and not gw["url"]:
        problems.append('gateway.url: required when gateway.transport = "http"')
    if gw["transport"] == "log" and not gw["path"]:
        problems.append('gateway.path: required when gateway.transport = "log" (the file to append calls to)')
    check_values(values, problems)

    if values.get("sending"):
        from .sending_hours import parse as parse_hours

        # a key of the wrong type was reported by _section: check only what it kept
        sv = values["sending"]
        problems += parse_hours(sv.get("hours", "00:00-24:00"), sv.get("days", ["mon"]))[1]

    users: dict[str, User] = {}
    utable = data.get("users", {})
    if not isinstance(utable, dict):
        problems.append("users: expected tables [users.LOGIN]")
        utable = {}
    for login, entry in utable.items():
        if not isinstance(entry, dict):
            problems.append(f"users.{login}: expected a table [users.{login}]")
            continue
        u = _section(f"users.{login}", entry, USER_SCHEMA, problems)
        perms = u.get("permissions") or []
        bad = [p for p in perms if p not in PERMISSIONS]
        if bad or not all(isinstance(p, str) for p in perms):
            problems.append(
                f"users.{login}.permissions: expected a list of {', '.join(map(repr, PERMISSIONS))}, got {perms!r}"
            )
        if u.get("language") and u["language"] not in LANGUAGES:
            problems.append(f"users.{login}.language: expected one of {', '.join(map(repr, LANGUAGES))}")
        users[login] = User(
            login,
            u.get("name") or login,
            frozenset(p for p in perms if p in PERMISSIONS),
            language=u.get("language", ""),
            email=u.get("email", ""),
            app_id=u.get("app_id", ""),
        )

    if problems:
        raise ConfigError(path, problems)

    for section in ("email", "gateway"):
        for key in ("path",):
            if values[section][key]:
                values[section][key] = (
                    str((base / values[section][key]).resolve())
                    if not os.path.isabs(values[section][key])
                    else values[section][key]
                )
    return Config(
        path=path,
        clinic=ClinicSettings(**clinic),
        database=DatabaseSettings(**db),
        email=EmailSettings(
            transport=email["transport"],
            host=email["host"],
            port=email["port"],
            security=email["security"],
            username=email["username"],
            password_secret=password,
            sender=email["from"],
            unsubscribe_url=email["unsubscribe_url"],
            path=email["path"],
            timeout_seconds=email["timeout_seconds"],
            concurrency=email["concurrency"],
            unknown_outcome_retries=email["unknown_outcome_retries"],
        ),
        gateway=GatewaySettings(
            transport=gw["transport"],
            url=gw["url"].rstrip("/"),
            token_secret=token,
            timeout_seconds=gw["timeout_seconds"],
            concurrency=gw["concurrency"],
            path=gw["path"],
        ),
        scheduler=SchedulerSettings(**values["scheduler"]),
        sending=SendingSettings(
            hours=values["sending"]["hours"], days=tuple(d.strip().lower() for d in values["sending"]["days"])
        ),
        users=users,
    )


def _check_identification(data: dict, email: dict, clinic: dict, problems: list[str]) -> None:
    """The form of what every email carries (SPEC §10, CASL), checked at load; whether an
    SMTP setup has all of it is `email_problems`, checked where email is sent."""
    if isinstance(data.get("email"), dict) and "list_unsubscribe" in data["email"]:
        # replaced, not merely unknown: say by what
        problems[:] = [p for p in problems if not p.startswith("email.list_unsubscribe:")]
        problems.append(
            "email.list_unsubscribe: no longer used; every email now carries a personal link "
            "<unsubscribe_url>/<token>: remove list_unsubscribe and set email.unsubscribe_url"
        )
    url = email.get("unsubscribe_url") or ""
    if url and not url.startswith(("https://", "http://")):
        problems.append("email.unsubscribe_url: expected an https:// URL (the unsubscribe page)")


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
            f'{where}email.unsubscribe_url: required when email.transport = "smtp" (the unsubscribe page the '
            "patient app provider hosts; each email links <unsubscribe_url>/<token>)"
        )
    for key in ("address", "phone"):
        if not getattr(config.clinic, key).strip():
            problems.append(
                f'{where}clinic.{key}: required when email.transport = "smtp" (every email ends with the '
                "clinic's name, postal address and phone)"
            )
    return problems


def _section(name: str, table: dict, keys: dict, problems: list[str]) -> dict:
    out: dict[str, Any] = {}
    for k in table:
        if k not in keys:
            problems.append(f"{name}.{k}: unknown key; expected one of {', '.join(keys)}")
    for k, (typ, default) in keys.items():
        if k not in table:
            if default is REQUIRED:
                problems.append(f"{name}.{k}: required key is missing ({_TYPE_NAMES[typ]})")
            else:
                out[k] = default
            continue
        v = table[k]
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, typ) or (typ in (int, float) and isinstance(v, bool)):
            problems.append(f"{name}.{k}: expected {_TYPE_NAMES[typ]}, got {type(v).__name__} {v!r}")
            if default is not REQUIRED:  # the checks after this one read every key (fuzz, issue #8)
                out[k] = default
            continue
        if typ is str and default is REQUIRED and not v.strip():
            problems.append(f"{name}.{k}: must not be empty")
        out[k] = v
    return out


def _resolve_db_url(url: str, base: Path, problems: list[str]) -> str:
    """sqlite:///abs/path stays absolute; sqlite://rel/path is relative to the config file."""
    if url.startswith("sqlite:///"):
        return url
    if url.startswith("sqlite://"):
        return "sqlite:///" + str((base / url[len("sqlite://") :]).resolve()).lstrip("/")
    if url.startswith(("postgresql://", "postgres://")):
        check_postgres_url(url, problems)
        return url
    problems.append(f"database.url: expected sqlite:///PATH or postgresql://USER@HOST/DB, got {url!r}")
    return url
