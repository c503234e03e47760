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

from core import infile, tomlwords
from core.config import access, secrets
from core.config.checks import check_dkim, check_identification, check_postgres_url, check_values
from core.config.schema import LOGIN_NAME, REQUIRED_SECTIONS, SECTIONS, UserTable, validate
from core.config.types import (
    ClinicSettings,
    Config,
    DatabaseSettings,
    EmailSettings,
    ExportsSettings,
    GatewaySettings,
    SchedulerSettings,
    SendingSettings,
    User,
)
from core.errors import BadInput, ConfigError
from core.i18n import _
from core.textcheck import quoted_value


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
            _(
                "no config file found: pass --config PATH, set CLINICAST_CONFIG, or create "
                "./clinicast.toml (see config.example.toml)"
            )
        ],
    )


def load(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve the config file; raise ConfigError listing every problem."""
    p = discover(path)
    try:  # with the bounds of every input file: a FIFO, a device, a huge file refused unread
        raw = infile.read_bytes(p, limit=infile.CONFIG_LIMIT, what=_("a TOML config file"), label=str(p))
    except BadInput as e:  # "PATH: is a folder…" as the language writes it ("PATH : …" in French)
        said = str(e)
        if said.startswith(str(p)):  # ConfigError names the file itself
            said = said[len(str(p)) :].lstrip(" \u00a0\u202f").removeprefix(":").lstrip()
        raise ConfigError(p, [access.cannot_read(p) or said]) from None  # whose file, which group to join
    try:
        data = tomllib.loads(tomlwords.text_of(raw))  # a BOM (Windows Notepad) is fine
    except tomlwords.NotUtf8 as e:
        raise ConfigError(p, [str(e)]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(p, [tomlwords.problem(e)]) from None
    except RecursionError:
        raise ConfigError(p, [_("TOML nested too deeply; expected the tables of config.example.toml")]) from None
    return from_dict(data, p, os.environ if env is None else env)


def from_dict(data: dict, path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The config a TOML document describes; raise ConfigError listing every problem, each
    one line naming its key (the tables are read by core.config.schema's models)."""
    env = os.environ if env is None else env
    base = path.parent if path else Path.cwd()
    problems: list[str] = []
    values = _read_tables(data, problems)
    clinic, db, email, gw = (values.get(k) or {} for k in ("clinic", "database", "email", "gateway"))
    if db.get("url"):
        db["url"] = _resolve_db_url(db["url"], base, problems)
    password = secrets.ref("email", "password", email, env, base, problems, path)
    token = secrets.ref("gateway", "token", gw, env, base, problems, path)
    check_identification(data, email, clinic, problems)
    check_dkim(email, base, problems)
    check_values(values, problems)
    users = _read_users(data.get("users", {}), problems)
    keymap = read_keys(data.get("keys", {}), problems)
    if problems:
        raise ConfigError(path, problems)
    return _config(values, base, path, users, keymap, password, token)


def _read_tables(data: dict, problems: list[str]) -> dict[str, dict[str, Any]]:
    """Every known table read against its model; a table with a problem is left out."""
    known = [*SECTIONS, "users", "keys"]
    for key in data:
        if key not in known:
            problems.append(
                _("unknown section [{key}]; expected one of {sections}").format(
                    key=key, sections=", ".join(f"[{k}]" for k in known)
                )
            )
    values: dict[str, dict[str, Any]] = {}
    for name, model in SECTIONS.items():
        if name not in data and name in REQUIRED_SECTIONS:
            problems.append(_("[{name}] is missing").format(name=name))
            continue
        read = validate(name, model, data.get(name, {}), problems)
        if read is not None:
            values[name] = read
    return values


def _read_users(table: object, problems: list[str]) -> dict[str, User]:
    """[users.LOGIN] tables: a login is the host's (SPEC §6)."""
    if not isinstance(table, dict):
        problems.append(_("users: expected tables [users.LOGIN]"))
        return {}
    users: dict[str, User] = {}
    for login, entry in table.items():
        if not LOGIN_NAME.fullmatch(login):
            # a key no OS login can have is a typo, and a control character in it would
            # break the one-line messages
            problems.append(
                _("users: {login} is not a login name (letters, digits, “.”, “_”, “-”)").format(
                    login=quoted_value(login)
                )
            )
            continue
        u = validate(f"users.{login}", UserTable, entry, problems)
        if u is not None:
            users[login] = User(
                login,
                u["name"],
                frozenset(u["permissions"]),
                language=u["language"],
                email=u["email"],
                app_id=u["app_id"],
            )
    return users


def _config(
    values: dict, base: Path, path: Path | None, users: dict[str, User], keys: dict[str, str], password, token
) -> Config:
    """The loaded config's types from tables that passed every check."""
    email, gw, sending = values["email"], values["gateway"], values["sending"]
    for table in (email, gw):
        for key in ("path", "ca_file"):
            if table[key] and not os.path.isabs(table[key]):
                table[key] = str((base / table[key]).resolve())
    return Config(
        path=path,
        clinic=ClinicSettings(**values["clinic"]),
        database=DatabaseSettings(**values["database"]),
        email=EmailSettings(
            sender=email.pop("from"),
            password_secret=password,
            dkim_key_secret=secrets.dkim_ref(email, path),
            **{k: v for k, v in email.items() if k not in ("password_env", "password_file")},
        ),
        gateway=GatewaySettings(
            url=gw.pop("url").rstrip("/"),
            token_secret=token,
            **{k: v for k, v in gw.items() if k not in ("token_env", "token_file")},
        ),
        scheduler=SchedulerSettings(**values["scheduler"]),
        sending=SendingSettings(hours=sending["hours"], days=tuple(d.strip().lower() for d in sending["days"])),
        exports=ExportsSettings(**values["exports"]),
        users=users,
        keys=keys,
    )


_KEY_NAME = re.compile(r"^[a-z0-9_+.-]+$|^[^\s,]$")


def read_keys(table: object, problems: list[str]) -> dict[str, str]:
    """[keys]: the TUI's bindings rebound by id (`"template.save" = "ctrl+o"`, several
    keys comma-separated). Here only the shape is checked; the ids and clashes are the
    TUI's (tui.keys.problems, which `clinicast config check` runs too)."""
    if not isinstance(table, dict):
        problems.append(_('keys: expected a table [keys] of binding id = "key" (e.g. "template.save" = "ctrl+o")'))
        return {}
    out = {}
    for binding_id, keys in table.items():
        if not isinstance(keys, str) or not keys.strip():
            problems.append(
                _("keys.{id}: expected a key name like “ctrl+o” or “f5”, got {value}").format(
                    id=binding_id, value=quoted_value(keys)
                )
            )
            continue
        names = [k.strip() for k in keys.split(",")]
        bad = [k for k in names if not k or not _KEY_NAME.match(k)]
        if bad:
            problems.append(
                _("keys.{id}: {key} is not a key name; expected e.g. “ctrl+o”, “f5”, “question_mark”").format(
                    id=binding_id, key=quoted_value(bad[0])
                )
            )
            continue
        out[binding_id] = ",".join(names)
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
    problems.append(
        _("database.url: expected sqlite:///PATH or postgresql://USER@HOST/DB, got {value}").format(
            value=quoted_value(url)
        )
    )
    return url


def language_lines(text: str, login: str) -> str | None:
    """The language a config that is not valid TOML names for `login` (so that its syntax
    error is said in that language): its `[users.LOGIN] language` and `[clinic]
    default_language` lines read one by one; "fr" for a [clinic] without one (the
    schema's default), None when nothing says."""
    from core.i18n import LANGUAGES

    table, found = "", dict[tuple[str, str], str]()
    for line in text.splitlines():
        header = re.match(r"\s*\[([^\[\]]+)\]", line)
        if header:
            table = re.sub(r"[\s\"']", "", header.group(1))
            found.setdefault((table, ""), "")
            continue
        value = re.match(r"\s*(default_language|language)\s*=\s*[\"'](\w+)[\"']", line)
        if value and value.group(2) in LANGUAGES:
            found[(table, value.group(1))] = value.group(2)
    said = found.get((f"users.{login}", "language")) or found.get(("clinic", "default_language"))
    return said or ("fr" if ("clinic", "") in found else None)


__all__ = ["discover", "from_dict", "language_lines", "load"]
