"""Load and validate clinicast's one TOML file (SPEC §8).

Every problem is collected with its key path and reported together; unknown keys are
refused so a typo never goes unnoticed. Secrets come from an environment variable or
a file, never inline.

This module reads the file (`discover`, `load`) and runs the checks (`from_dict`); the
parts live beside it: core.config.types (the dataclasses), core.config.schema (the keys, types, defaults and
choices), core.config.checks (value ranges, the identification every email carries),
core.config.secrets (where a secret lives, read when sending).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import infile
from core.config import secrets
from core.config.checks import check_dkim, check_identification, check_postgres_url, check_values, email_problems
from core.config.schema import CHOICES, LANGUAGES, PERMISSIONS, REQUIRED, SCHEMA, USER_SCHEMA, read_section
from core.config.types import (
    ClinicSettings,
    Config,
    DatabaseSettings,
    EmailSettings,
    GatewaySettings,
    SchedulerSettings,
    SendingSettings,
    User,
)
from core.errors import BadInput, ConfigError
from core.patients.cells import is_email

LOGIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")


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


def load(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve the config file; raise ConfigError listing every problem."""
    p = discover(path)
    try:  # with the bounds of every input file: a FIFO, a device, a huge file refused unread
        raw = infile.read_bytes(p, limit=infile.CONFIG_LIMIT, what="a TOML config file", label=str(p))
    except BadInput as e:
        raise ConfigError(p, [str(e).removeprefix(f"{p}: ")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(p, [f"not UTF-8 text (byte {e.start})"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(p, [f"TOML syntax error: {e}"]) from None
    except RecursionError:
        raise ConfigError(p, ["TOML nested too deeply; expected the tables of config.example.toml"]) from None
    return from_dict(data, p, os.environ if env is None else env)


def from_dict(data: dict, path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
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
        values[section] = read_section(section, table, keys, problems)

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
    check_identification(data, email, clinic, problems)
    check_dkim(email, base, problems)
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
        from core.sending_hours import parse as parse_hours

        # a key of the wrong type was reported by read_section: check only what it kept
        sv = values["sending"]
        problems += parse_hours(sv.get("hours", "00:00-24:00"), sv.get("days", ["mon"]))[1]

    users: dict[str, User] = {}
    utable = data.get("users", {})
    if not isinstance(utable, dict):
        problems.append("users: expected tables [users.LOGIN]")
        utable = {}
    for login, entry in utable.items():
        if not LOGIN_NAME.fullmatch(login):
            # a login is the host's (SPEC §6): a key no OS login can have is a typo, and a
            # control character in it would break the one-line messages below
            problems.append(f"users: {login!r} is not a login name (letters, digits, '.', '_', '-')")
            continue
        if not isinstance(entry, dict):
            problems.append(f"users.{login}: expected a table [users.{login}]")
            continue
        u = read_section(f"users.{login}", entry, USER_SCHEMA, problems)
        perms = u.get("permissions") or []
        bad = [p for p in perms if p not in PERMISSIONS]
        if bad or not all(isinstance(p, str) for p in perms):
            problems.append(
                f"users.{login}.permissions: expected a list of {', '.join(map(repr, PERMISSIONS))}, got {perms!r}"
            )
        if u.get("language") and u["language"] not in LANGUAGES:
            problems.append(f"users.{login}.language: expected one of {', '.join(map(repr, LANGUAGES))}")
        if u.get("email") and not is_email(u["email"]):  # where their test emails go
            problems.append(f"users.{login}.email: expected one address like name@example.org, got {u['email']!r}")
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
            max_per_minute=email["max_per_minute"],
            max_per_day=email["max_per_day"],
            dkim_key_file=email["dkim_key_file"],
            dkim_selector=email["dkim_selector"],
            dkim_domain=email["dkim_domain"],
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


__all__ = [
    "CHOICES",
    "LANGUAGES",
    "PERMISSIONS",
    "REQUIRED",
    "SCHEMA",
    "USER_SCHEMA",
    "ClinicSettings",
    "Config",
    "ConfigError",
    "DatabaseSettings",
    "EmailSettings",
    "GatewaySettings",
    "SchedulerSettings",
    "SendingSettings",
    "User",
    "discover",
    "email_problems",
    "from_dict",
    "load",
]
