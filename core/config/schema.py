"""The config file as typed models (SPEC §8): one msgspec Struct per TOML table, with each
key's type, default and fixed choices; `validate()` reads a table against its model and
says every problem in clinicast's words, one line naming the key's path.

A key not in a model is refused (a typo never goes unnoticed); types are strict (a string
is never read as a number, `true` never as 1). Each key is converted by msgspec on its
own, so that every problem of a table is said at once (msgspec stops at the first);
then the table as a whole, for its defaults and the rules across keys (`_rules`). The
range and shape checks of the values that pass are core.config.checks; the secrets stay
names of a variable or a file here (core.config.secrets reads them only where sending
happens).

msgspec, not pydantic: every clinicast command loads the config, and importing pydantic
and building its models was ~0.12 s of CPU a process, more than `campaigns list`'s own
work on a million-row history (issue #21); msgspec's import is ~0.02 s.
"""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from core.enums import Language, Permission
from core.i18n import N_, _, pgettext
from core.textcheck import quoted_value

# the words as the file spells them; their one definition is core.enums
PERMISSIONS: tuple[str, ...] = tuple(p.value for p in Permission)
LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in Language)
LOGIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")


class Table(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A TOML table: unknown keys refused, strict types, read-only once read."""

    def _rules(self) -> list[str]:
        """The rules across this table's keys, once each key passed: one line a problem."""
        return []


class Check:
    """A check of one key's value once its type passed (in the key's `Annotated`, which
    msgspec leaves alone): `test(path, value)` returns the problem's line, or None."""

    def __init__(self, test: Callable[[str, Any], str | None]) -> None:
        self.test = test


def _not_blank(path: str, v: str) -> str | None:
    return None if v.strip() else _("{key}: must not be empty").format(key=path)


def _language_or_empty(path: str, v: str) -> str | None:
    if v and v not in LANGUAGES:
        return _one_of(path, LANGUAGES, v)
    return None


def _time_zone(path: str, v: str) -> str | None:
    if v.strip():  # an empty one is core.config.checks'
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            return _("clinic.timezone: unknown time zone {value}; expected e.g. “America/Toronto”").format(
                value=quoted_value(v)
            )
    return None


def _one_address(path: str, v: str) -> str | None:
    from core.patients.cells import is_email

    if v and not is_email(v):
        return _("{key}: expected one address like name@example.org, got {value}").format(
            key=path, value=quoted_value(v)
        )
    return None


def _a_path(path: str, v: str) -> str | None:
    if any(ord(c) < 32 or c == "\x7f" for c in v):  # a NUL made every later stat() raise
        return _("{key}: expected a file path without control characters, got {value}").format(
            key=path, value=quoted_value(v)
        )
    return None


Required = Annotated[str, Check(_not_blank)]  # a string that must say something
FilePath = Annotated[str, Check(_a_path)]  # a file or folder name: no NUL, no line break


class ClinicTable(Table, frozen=True):
    name: Required
    phone: str = ""
    address: str = ""
    app_url: str = "https://app.example.org/join"
    timezone: Annotated[str, Check(_time_zone)] = "America/Toronto"
    default_language: Language = Language.FR  # a word of core.enums, written as its value


class DatabaseTable(Table, frozen=True):
    url: Required
    group: str = ""
    keep_deliveries_days: int = 90


class EmailTable(Table, frozen=True):
    transport: Literal["smtp", "maildir"] = "smtp"
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: str = ""
    password_file: FilePath = ""
    from_: str = msgspec.field(default="clinicast <no-reply@localhost>", name="from")
    unsubscribe_url: str = ""
    unknown_outcome_retries: int = 1
    path: FilePath = ""
    timeout_seconds: float = 30.0
    concurrency: int = 2
    max_per_minute: int = 0  # the relay's pace, all dispatchers together (0: none)
    max_per_day: int = 0
    dkim_key_file: FilePath = ""  # DKIM signing by clinicast: all three or none (core.config.checks)
    dkim_selector: str = ""
    dkim_domain: str = ""
    ca_file: FilePath = ""  # the CA (PEM) the relay's certificate is checked against ("": the system's)

    def _rules(self) -> list[str]:
        if self.transport == "maildir" and not self.path:
            return [_('email.path: required when email.transport = "maildir" (the folder to write .eml files to)')]
        return []


class GatewayTable(Table, frozen=True):
    transport: Literal["http", "log"] = "http"
    url: str = ""
    token_env: str = ""
    token_file: FilePath = ""
    timeout_seconds: float = 10.0
    ca_file: FilePath = ""  # the CA (PEM) the gateway's certificate is checked against ("": the system's)
    concurrency: int = 16
    path: FilePath = ""

    def _rules(self) -> list[str]:
        if self.transport == "http" and not self.url:
            return [_('gateway.url: required when gateway.transport = "http"')]
        if self.transport == "log" and not self.path:
            return [_('gateway.path: required when gateway.transport = "log" (the file to append calls to)')]
        return []


class SchedulerTable(Table, frozen=True):
    embedded: Literal["auto", "always", "never"] = "auto"
    tick_seconds: float = 5.0
    lease_seconds: float = 60.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    heartbeat_seconds: float = 15.0


class SendingTable(Table, frozen=True):
    hours: str = "09:00-20:00"
    days: list[str] = msgspec.field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat"])

    def _rules(self) -> list[str]:
        from core.sending_hours import parse as parse_hours

        return list(parse_hours(self.hours, self.days)[1])


class ExportsTable(Table, frozen=True):
    # the CSVs clinicast writes for people (core.spreadsheet): Excel on a French (Canada)
    # Windows splits on its list separator, ";" (there "," is the decimal mark)
    csv_separator: Literal[",", ";"] = ","


class UserTable(Table, frozen=True):
    name: Required
    permissions: list[Permission]  # words of core.enums, written as their values
    language: Annotated[str, Check(_language_or_empty)] = ""  # "" = [clinic] default_language
    email: Annotated[str, Check(_one_address)] = ""  # where their test emails go
    app_id: str = ""


# the file's tables, in the order they are read and reported; [users.LOGIN] are UserTable
SECTIONS: dict[str, type[Table]] = {
    "clinic": ClinicTable,
    "database": DatabaseTable,
    "email": EmailTable,
    "gateway": GatewayTable,
    "scheduler": SchedulerTable,
    "sending": SendingTable,
    "exports": ExportsTable,
}
REQUIRED_SECTIONS = ("clinic", "database")


def _keys(model: type[Table]) -> tuple[str, ...]:
    return tuple(f.encode_name for f in msgspec.structs.fields(model))


# every table's keys as the file spells them
SCHEMA: dict[str, tuple[str, ...]] = {name: _keys(model) for name, model in SECTIONS.items()}


def validate(name: str, model: type[Table], table: Any, problems: list[str]) -> dict[str, Any] | None:
    """`table` read against `model`: its values by the file's key names, or None with every
    problem appended to `problems` as one line naming `name.key`."""
    if not isinstance(table, dict):
        problems.append(_("{name}: expected a table [{name}]").format(name=name))
        return None
    fields = msgspec.structs.fields(model)
    by_key = {f.encode_name: f for f in fields}
    found: list[str] = []
    for key in table:
        if key not in by_key:
            found.append(
                _("{key}: unknown key; expected one of {keys}").format(key=f"{name}.{key}", keys=", ".join(by_key))
            )
    for f in fields:
        path = f"{name}.{f.encode_name}"
        if f.encode_name not in table:
            if f.required:
                found.append(
                    _("{path}: {problem}").format(
                        path=path, problem=_(_MISSING_AS.get(_base(f.type), _MISSING_AS[list]))
                    )
                )
            continue
        value = table[f.encode_name]
        try:
            msgspec.convert(value, type=f.type, strict=True)
        except msgspec.ValidationError:
            found.append(_type_problem(path, f.type, value))
            continue
        for check in _checks(f.type):
            line = check.test(path, value)
            if line:
                found.append(line)
    if not found:
        read = msgspec.convert(table, type=model, strict=True)
        found = read._rules()
    if found:
        problems.extend(found)
        return None
    return {f.encode_name: getattr(read, f.name) for f in fields}


def _checks(t: Any) -> list[Check]:
    return [m for m in getattr(t, "__metadata__", ()) if isinstance(m, Check)]


def _base(t: Any) -> Any:
    """The type under an Annotated: `str`, `int`, `list`, a Literal, an Enum."""
    if typing.get_origin(t) is Annotated:
        t = typing.get_args(t)[0]
    return typing.get_origin(t) or t


def _choices(t: Any) -> tuple[str, ...] | None:
    """The values a Literal or an Enum allows, as the file writes them; None for others."""
    if typing.get_origin(t) is Literal:
        return tuple(str(c) for c in typing.get_args(t))
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return tuple(str(m.value) for m in t)
    return None


def _one_of(path: str, choices: tuple[str, ...], value: Any) -> str:
    return _("{key}: expected one of {choices}, got {value}").format(
        key=path, choices=", ".join(map(quoted_value, choices)), value=quoted_value(value)
    )


# msgspec's own sentences are English: each kind of problem is said here, the key path
# first (`email.max_per_minute: …`), in the staff member's language
_TYPE_NAMES = {
    str: N_("expected a string, got {type} {value}"),
    int: N_("expected an integer, got {type} {value}"),
    float: N_("expected a number, got {type} {value}"),
    list: N_("expected a list, got {type} {value}"),
    bool: N_("expected true or false, got {type} {value}"),
}
_MISSING_AS = {
    str: N_("required key is missing (a string)"),
    int: N_("required key is missing (an integer)"),
    float: N_("required key is missing (a number)"),
    list: N_("required key is missing (a list)"),
    bool: N_("required key is missing (true or false)"),
}


def _type_problem(path: str, t: Any, value: Any) -> str:
    """A value msgspec refused for a key of type `t`, in clinicast's words."""
    base = _base(t)
    choices = _choices(t)
    if choices is not None:
        return _one_of(path, choices, value)
    if base is list and isinstance(value, list):  # an item is wrong
        item = typing.get_args(t)[0] if typing.get_args(t) else str
        item_choices = _choices(item)
        if item_choices is not None:
            return _("{key}: expected a list of {choices}, got {value}").format(
                key=path, choices=", ".join(map(quoted_value, item_choices)), value=quoted_value(value)
            )
        return _("{key}: expected a list of strings, got {value}").format(key=path, value=quoted_value(value))
    words = _TYPE_NAMES.get(base, N_("expected a value of another type, got {type} {value}"))
    return _("{path}: {problem}").format(
        path=path, problem=_(words).format(type=_kind_of(value), value=quoted_value(value))
    )


def _kind_of(value: Any) -> str:
    """What a TOML value is, as the reader says it (not Python's `str`, `int`)."""
    import datetime

    kinds = (  # bool before int: True is an int to Python
        (bool, pgettext("a TOML value", "a boolean")),
        (str, pgettext("a TOML value", "text")),
        (int, pgettext("a TOML value", "an integer")),
        (float, pgettext("a TOML value", "a decimal number")),
        (list, pgettext("a TOML value", "a list")),
        (dict, pgettext("a TOML value", "a table")),
        (datetime.date | datetime.time, pgettext("a TOML value", "a date or time")),
    )
    return next((words for kind, words in kinds if isinstance(value, kind)), type(value).__name__)


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
    "ExportsTable",
    "GatewayTable",
    "SchedulerTable",
    "SendingTable",
    "Table",
    "UserTable",
    "validate",
]
