"""The config file's tables (SPEC §8): for each TOML table its keys, each with its type,
default and fixed choices; `validate()` reads a table against them and says every
problem in clinicast's words, one line naming the key's path.

A key not in a table is refused (a typo never goes unnoticed); types are strict (a string
is never read as a number, `true` never as 1). The range and shape checks of the values
that pass are core.config.checks; the secrets stay names of a variable or a file here
(core.config.secrets reads them only where sending happens).

Plain Python, not a model library: every command loads the config, and pydantic's
import and model building were 0.1 s of each `clinicast` process, more than the
commands' own work on a long history (issue #21).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.enums import Language, Permission
from core.i18n import N_, _

# the words as the file spells them; their one definition is core.enums
PERMISSIONS: tuple[str, ...] = tuple(p.value for p in Permission)
LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in Language)
LOGIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")


class Problem(Exception):
    """A value its key refuses: `kind` says which sentence of `_line` words it; `line`,
    when given, is already clinicast's whole line (a rule with its own words);
    `expected`, the words a choice allows."""

    def __init__(self, kind: str, line: str = "", expected: tuple[str, ...] = ()) -> None:
        super().__init__(kind)
        self.kind, self.line, self.expected = kind, line, expected


_REQUIRED: Any = object()  # a key's default when the file must say it


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a table: the type the file writes it in (str, int, float, list), its
    default, its fixed choices or the core.enums word it is read as (a list's items
    when `kind` is list), and a check of a value whose type is right."""

    kind: type
    default: Any = _REQUIRED
    choices: tuple[str, ...] = ()
    word: type[StrEnum] | None = None
    check: Callable[[Any], None] | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """A TOML table: its keys in the order they are read and reported, as the file spells
    them, and its rules across keys (each raising Problem with its whole line, said only
    when every key passed)."""

    keys: dict[str, Key]
    rules: tuple[Callable[[dict[str, Any]], None], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.keys)


def _problem(line: str) -> Problem:
    """A rule across keys, already worded as clinicast's line (key path first)."""
    return Problem("clinicast", line)


def _not_blank(v: str) -> None:
    if not v.strip():
        raise Problem("blank")


def _language_or_empty(v: str) -> None:
    if v and v not in LANGUAGES:
        raise Problem("choice", expected=LANGUAGES)


def _time_zone(v: str) -> None:
    if v.strip():  # an empty one is core.config.checks'
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise _problem(
                _("clinic.timezone: unknown time zone {value!r}; expected e.g. 'America/Toronto'").format(value=v)
            ) from None


def _one_address(v: str) -> None:
    from core.patients.cells import is_email

    if v and not is_email(v):
        raise Problem("address")


def _a_path(v: str) -> None:
    if any(ord(c) < 32 or c == "\x7f" for c in v):  # a NUL made every later stat() raise
        raise Problem("path")


def _required() -> Key:  # a string that must say something
    return Key(str, check=_not_blank)


def _file_path() -> Key:  # a file or folder name: no NUL, no line break
    return Key(str, "", check=_a_path)


def _maildir_has_a_path(t: dict[str, Any]) -> None:
    if t["transport"] == "maildir" and not t["path"]:
        raise _problem(_('email.path: required when email.transport = "maildir" (the folder to write .eml files to)'))


def _transport_has_its_target(t: dict[str, Any]) -> None:
    if t["transport"] == "http" and not t["url"]:
        raise _problem(_('gateway.url: required when gateway.transport = "http"'))
    if t["transport"] == "log" and not t["path"]:
        raise _problem(_('gateway.path: required when gateway.transport = "log" (the file to append calls to)'))


def _hours_and_days_read(t: dict[str, Any]) -> None:
    from core.sending_hours import parse as parse_hours

    problems = parse_hours(t["hours"], t["days"])[1]
    if problems:
        raise _problem("\n".join(problems))


ClinicTable = Table(
    {
        "name": _required(),
        "phone": Key(str, ""),
        "address": Key(str, ""),
        "app_url": Key(str, "https://app.example.org/join"),
        "timezone": Key(str, "America/Toronto", check=_time_zone),
        "default_language": Key(str, Language.FR, word=Language),
    }
)
DatabaseTable = Table({"url": _required(), "group": Key(str, ""), "keep_deliveries_days": Key(int, 90)})
EmailTable = Table(
    {
        "transport": Key(str, "smtp", choices=("smtp", "maildir")),
        "host": Key(str, "localhost"),
        "port": Key(int, 587),
        "security": Key(str, "starttls", choices=("starttls", "tls", "none")),
        "username": Key(str, ""),
        "password_env": Key(str, ""),
        "password_file": _file_path(),
        "from": Key(str, "clinicast <no-reply@localhost>"),
        "unsubscribe_url": Key(str, ""),
        "unknown_outcome_retries": Key(int, 1),
        "path": _file_path(),
        "timeout_seconds": Key(float, 30.0),
        "concurrency": Key(int, 2),
        "max_per_minute": Key(int, 0),  # the relay's pace, all dispatchers together (0: none)
        "max_per_day": Key(int, 0),
        "dkim_key_file": _file_path(),  # DKIM signing by clinicast: all three or none (core.config.checks)
        "dkim_selector": Key(str, ""),
        "dkim_domain": Key(str, ""),
        "ca_file": _file_path(),  # the CA (PEM) the relay's certificate is checked against ("": the system's)
    },
    rules=(_maildir_has_a_path,),
)
GatewayTable = Table(
    {
        "transport": Key(str, "http", choices=("http", "log")),
        "url": Key(str, ""),
        "token_env": Key(str, ""),
        "token_file": _file_path(),
        "timeout_seconds": Key(float, 10.0),
        "ca_file": _file_path(),  # the CA (PEM) the gateway's certificate is checked against ("": the system's)
        "concurrency": Key(int, 16),
        "path": _file_path(),
    },
    rules=(_transport_has_its_target,),
)
SchedulerTable = Table(
    {
        "embedded": Key(str, "auto", choices=("auto", "always", "never")),
        "tick_seconds": Key(float, 5.0),
        "lease_seconds": Key(float, 60.0),
        "max_attempts": Key(int, 8),
        "backoff_base_seconds": Key(float, 30.0),
        "backoff_max_seconds": Key(float, 3600.0),
        "heartbeat_seconds": Key(float, 15.0),
    }
)
SendingTable = Table(
    {
        "hours": Key(str, "09:00-20:00"),
        "days": Key(list, ("mon", "tue", "wed", "thu", "fri", "sat")),
    },
    rules=(_hours_and_days_read,),
)
UserTable = Table(
    {
        "name": _required(),
        "permissions": Key(list, word=Permission),
        "language": Key(str, "", check=_language_or_empty),  # "" = [clinic] default_language
        "email": Key(str, "", check=_one_address),  # where their test emails go
        "app_id": Key(str, ""),
    }
)

# the file's tables, in the order they are read and reported; [users.LOGIN] are UserTable
SECTIONS: dict[str, Table] = {
    "clinic": ClinicTable,
    "database": DatabaseTable,
    "email": EmailTable,
    "gateway": GatewayTable,
    "scheduler": SchedulerTable,
    "sending": SendingTable,
}
REQUIRED_SECTIONS = ("clinic", "database")

# every table's keys as the file spells them
SCHEMA: dict[str, tuple[str, ...]] = {name: model.names for name, model in SECTIONS.items()}


def validate(name: str, model: Table, table: Any, problems: list[str]) -> dict[str, Any] | None:
    """`table` read against `model`: its values by the file's key names (the defaults
    filled in, a word of core.enums as its member), or None with every problem appended
    to `problems` as one line naming `name.key` — the keys in the table's order, then
    the unknown ones; the rules across keys only when every key passed."""
    if not isinstance(table, dict):
        problems.append(_("{name}: expected a table [{name}]").format(name=name))
        return None
    found: list[str] = []
    values: dict[str, Any] = {}
    for key, spec in model.keys.items():
        if key not in table:
            if spec.default is _REQUIRED:
                found.append(f"{name}.{key}: " + _(_MISSING_AS[spec.kind]))
            else:
                default = spec.default
                values[key] = list(default) if isinstance(default, tuple) else default
            continue
        try:
            values[key] = _read(spec, table[key])
        except Problem as e:
            found.extend(_line(f"{name}.{key}", table[key], e))
    for key in table:
        if key not in model.keys:
            found.append(
                _("{key}: unknown key; expected one of {keys}").format(key=f"{name}.{key}", keys=", ".join(model.keys))
            )
    if not found:
        for rule in model.rules:
            try:
                rule(values)
            except Problem as e:
                found.extend(e.line.split("\n"))
                break  # as a model's one validator: the first rule that fails says it
    problems.extend(found)
    return None if found else values


def _read(spec: Key, value: Any) -> Any:
    """`value` as `spec` reads it, or Problem: the type first, then the choices, then the check."""
    if spec.kind is list:
        if not isinstance(value, list):
            raise Problem("list_type")
        if spec.word is not None:
            return [_word(spec.word, v, "choice_of_list") for v in value]
        if not all(isinstance(v, str) for v in value):
            raise Problem("str_of_list")
        return [str(v) for v in value]
    if spec.word is not None:
        return _word(spec.word, value, "choice")
    if spec.choices:  # a fixed word: anything else, a string or not, is not one of them
        if not isinstance(value, str) or value not in spec.choices:
            raise Problem("choice", expected=spec.choices)
        value = str(value)
    elif spec.kind is str:
        if not isinstance(value, str):
            raise Problem("string_type")
        value = str(value)
    elif spec.kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Problem("int_type")
    elif spec.kind is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise Problem("float_type")
        try:
            value = float(value)
        except OverflowError:  # an integer no float holds
            raise Problem("float_type") from None
    if spec.check is not None:
        spec.check(value)
    return value


def _word(enum: type[StrEnum], value: Any, kind: str) -> StrEnum:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    raise Problem(kind, expected=tuple(w.value for w in enum))


# each kind of problem is said here, the key path first (`email.max_per_minute: …`), in
# the staff member's language
_TYPE_NAMES = {
    "string_type": N_("expected a string, got {type} {value!r}"),
    "int_type": N_("expected an integer, got {type} {value!r}"),
    "float_type": N_("expected a number, got {type} {value!r}"),
    "list_type": N_("expected a list, got {type} {value!r}"),
}
_MISSING_AS = {
    str: N_("required key is missing (a string)"),
    int: N_("required key is missing (an integer)"),
    float: N_("required key is missing (a number)"),
    list: N_("required key is missing (a list)"),
    bool: N_("required key is missing (true or false)"),
}


def _line(path: str, value: Any, e: Problem) -> list[str]:
    """One refused value in clinicast's words: `path: what was expected, got what`."""
    kind, choices = e.kind, ", ".join(repr(w) for w in e.expected)
    if kind == "clinicast":  # a check with its own words: already one line per problem, key first
        return e.line.split("\n")
    if kind == "blank":
        return [_("{key}: must not be empty").format(key=path)]
    if kind == "path":
        return [
            _("{key}: expected a file path without control characters, got {value!r}").format(key=path, value=value)
        ]
    if kind == "address":
        return [_("{key}: expected one address like name@example.org, got {value!r}").format(key=path, value=value)]
    if kind == "choice_of_list":
        return [_("{key}: expected a list of {choices}, got {value!r}").format(key=path, choices=choices, value=value)]
    if kind == "choice":
        return [_("{key}: expected one of {choices}, got {value!r}").format(key=path, choices=choices, value=value)]
    if kind == "str_of_list":
        return [_("{key}: expected a list of strings, got {value!r}").format(key=path, value=value)]
    return [f"{path}: " + _(_TYPE_NAMES[kind]).format(type=type(value).__name__, value=value)]


__all__ = [
    "LANGUAGES",
    "LOGIN_NAME",
    "PERMISSIONS",
    "REQUIRED_SECTIONS",
    "SCHEMA",
    "SECTIONS",
    "ClinicTable",
    "DatabaseTable",
    "EmailTable",
    "GatewayTable",
    "Key",
    "Problem",
    "SchedulerTable",
    "SendingTable",
    "Table",
    "UserTable",
    "validate",
]
