"""Load and validate clinicast's one TOML file (SPEC §8).

Every problem is collected with its key path and reported together; unknown keys are
refused so a typo never goes unnoticed. Secrets come from an environment variable or
a file, never inline.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    password: str | None = None
    sender: str = "clinicast <no-reply@localhost>"
    list_unsubscribe: str = ""
    unsubscribe_url: str = ""  # each email's personal link is <unsubscribe_url>/<token> (SPEC §10)
    path: str = ""
    timeout_seconds: float = 30  # the overall deadline of one SMTP transaction
    concurrency: int = 2
    unknown_outcome_retries: int = 1  # an email whose outcome is unknown is sent again at most this often


@dataclass(frozen=True)
class GatewaySettings:
    transport: str = "http"
    url: str = ""
    token: str | None = None
    timeout_seconds: float = 10
    concurrency: int = 16
    path: str = ""


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
_SECRET = object()  # marker: "<x>_env" / "<x>_file" pair resolved to one value

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
        "list_unsubscribe": (str, ""),
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
    if clinic.get("app_url") and not clinic["app_url"].startswith(("https://", "http://")):
        problems.append("clinic.app_url: expected an http:// or https:// URL")

    db = values.get("database", {})
    if db.get("url"):
        db["url"] = _resolve_db_url(db["url"], base, problems)

    email = values["email"]
    password = _secret("email", "password", email, env, base, problems)
    if email["transport"] == "maildir" and not email["path"]:
        problems.append('email.path: required when email.transport = "maildir" (the folder to write .eml files to)')
    gw = values["gateway"]
    token = _secret("gateway", "token", gw, env, base, problems)
    if gw["transport"] == "http" and not gw["url"]:
        problems.append('gateway.url: required when gateway.transport = "http"')
    if gw["transport"] == "log" and not gw["path"]:
        problems.append('gateway.path: required when gateway.transport = "log" (the file to append calls to)')
    if values["email"].get("unknown_outcome_retries") is not None and values["email"]["unknown_outcome_retries"] < 0:
        problems.append("email.unknown_outcome_retries: expected 0 or more")
    for section, key in (("gateway", "concurrency"), ("email", "concurrency"), ("scheduler", "max_attempts")):
        if values[section].get(key) is not None and values[section][key] < 1:
            problems.append(f"{section}.{key}: expected at least 1")
    for key in ("tick_seconds", "lease_seconds", "backoff_base_seconds", "backoff_max_seconds", "heartbeat_seconds"):
        if values["scheduler"].get(key) is not None and values["scheduler"][key] <= 0:
            problems.append(f"scheduler.{key}: expected a positive number")

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
            password=password,
            sender=email["from"],
            list_unsubscribe=email["list_unsubscribe"],
            unsubscribe_url=email["unsubscribe_url"],
            path=email["path"],
            timeout_seconds=email["timeout_seconds"],
            concurrency=email["concurrency"],
            unknown_outcome_retries=email["unknown_outcome_retries"],
        ),
        gateway=GatewaySettings(
            transport=gw["transport"],
            url=gw["url"].rstrip("/"),
            token=token,
            timeout_seconds=gw["timeout_seconds"],
            concurrency=gw["concurrency"],
            path=gw["path"],
        ),
        scheduler=SchedulerSettings(**values["scheduler"]),
        sending=SendingSettings(hours=values["sending"]["hours"], days=tuple(values["sending"]["days"])),
        users=users,
    )


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


def _secret(section: str, name: str, values: dict, env, base: Path, problems: list[str]) -> str | None:
    env_key, file_key = values.get(f"{name}_env"), values.get(f"{name}_file")
    if env_key and file_key:
        problems.append(f"{section}: set {name}_env or {name}_file, not both")
        return None
    if env_key:
        v = env.get(env_key)
        if v is None:
            problems.append(f"{section}.{name}_env: environment variable {env_key} is not set")
        return v
    if file_key:
        fp = Path(file_key) if os.path.isabs(file_key) else base / file_key
        try:
            st = fp.stat()
            if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
                problems.append(f"{section}.{name}_file: {fp} is readable or writable by others; run: chmod o-rwx {fp}")
                return None
            return fp.read_text(encoding="utf-8").strip()
        except OSError as e:
            problems.append(f"{section}.{name}_file: cannot read {fp}: {e.strerror}")
    return None


def _resolve_db_url(url: str, base: Path, problems: list[str]) -> str:
    """sqlite:///abs/path stays absolute; sqlite://rel/path is relative to the config file."""
    if url.startswith("sqlite:///"):
        return url
    if url.startswith("sqlite://"):
        return "sqlite:///" + str((base / url[len("sqlite://") :]).resolve()).lstrip("/")
    if url.startswith(("postgresql://", "postgres://")):
        return url
    problems.append(f"database.url: expected sqlite:///PATH or postgresql://USER@HOST/DB, got {url!r}")
    return url
