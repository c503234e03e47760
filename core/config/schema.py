"""The config file as typed models (SPEC §8): one pydantic model per TOML table, with each
key's type, default and fixed choices; `validate()` reads a table against its model and
says every problem in clinicast's words, one line naming the key's path.

A key not in a model is refused (a typo never goes unnoticed); types are strict (a string
is never read as a number, `true` never as 1). The range and shape checks of the values
that pass are core.config.checks; the secrets stay names of a variable or a file here
(core.config.secrets reads them only where sending happens).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from core.enums import Language, Permission
from core.i18n import N_, _

# the words as the file spells them; their one definition is core.enums
PERMISSIONS: tuple[str, ...] = tuple(p.value for p in Permission)
LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in Language)
LOGIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")


class Table(BaseModel):
    """A TOML table: unknown keys refused, strict types, read-only once read."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


def _problem(line: str) -> PydanticCustomError:
    """A rule across keys, already worded as clinicast's line (key path first)."""
    return PydanticCustomError("clinicast", line)


def _not_blank(v: str) -> str:
    if not v.strip():
        raise PydanticCustomError("blank", "must not be empty")  # worded by _lines
    return v


def _language_or_empty(v: str) -> str:
    if v and v not in LANGUAGES:
        raise PydanticCustomError("enum", "", {"expected": " or ".join(map(repr, LANGUAGES))})
    return v


def _time_zone(v: str) -> str:
    if v.strip():  # an empty one is core.config.checks'
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise _problem(
                _("clinic.timezone: unknown time zone {value!r}; expected e.g. 'America/Toronto'").format(value=v)
            ) from None
    return v


def _one_address(v: str) -> str:
    from core.patients.cells import is_email

    if v and not is_email(v):
        raise PydanticCustomError("address", "expected one address like name@example.org, got {value!r}")
    return v


Required = Annotated[str, AfterValidator(_not_blank)]  # a string that must say something


def _a_path(v: str) -> str:
    if any(ord(c) < 32 or c == "\x7f" for c in v):  # a NUL made every later stat() raise
        raise PydanticCustomError("path", "no control characters")  # worded by _lines
    return v


FilePath = Annotated[str, AfterValidator(_a_path)]  # a file or folder name: no NUL, no line break
# a word of core.enums, written as its value in the file
LanguageWord = Annotated[Language, Field(strict=False)]
PermissionWord = Annotated[Permission, Field(strict=False)]


class ClinicTable(Table):
    name: Required
    phone: str = ""
    address: str = ""
    app_url: str = "https://app.example.org/join"
    timezone: Annotated[str, AfterValidator(_time_zone)] = "America/Toronto"
    default_language: LanguageWord = Language.FR


class DatabaseTable(Table):
    url: Required
    group: str = ""
    keep_deliveries_days: int = 90


class EmailTable(Table):
    transport: Literal["smtp", "maildir"] = "smtp"
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: str = ""
    password_file: FilePath = ""
    from_: str = Field("clinicast <no-reply@localhost>", alias="from")
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

    @model_validator(mode="after")
    def _maildir_has_a_path(self) -> EmailTable:
        if self.transport == "maildir" and not self.path:
            raise _problem(
                _('email.path: required when email.transport = "maildir" (the folder to write .eml files to)')
            )
        return self


class GatewayTable(Table):
    transport: Literal["http", "log"] = "http"
    url: str = ""
    token_env: str = ""
    token_file: FilePath = ""
    timeout_seconds: float = 10.0
    ca_file: FilePath = ""  # the CA (PEM) the gateway's certificate is checked against ("": the system's)
    concurrency: int = 16
    path: FilePath = ""

    @model_validator(mode="after")
    def _transport_has_its_target(self) -> GatewayTable:
        if self.transport == "http" and not self.url:
            raise _problem(_('gateway.url: required when gateway.transport = "http"'))
        if self.transport == "log" and not self.path:
            raise _problem(_('gateway.path: required when gateway.transport = "log" (the file to append calls to)'))
        return self


class SchedulerTable(Table):
    embedded: Literal["auto", "always", "never"] = "auto"
    tick_seconds: float = 5.0
    lease_seconds: float = 60.0
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    heartbeat_seconds: float = 15.0


class SendingTable(Table):
    hours: str = "09:00-20:00"
    days: list[str] = ["mon", "tue", "wed", "thu", "fri", "sat"]

    @model_validator(mode="after")
    def _hours_and_days_read(self) -> SendingTable:
        from core.sending_hours import parse as parse_hours

        problems = parse_hours(self.hours, self.days)[1]
        if problems:
            raise _problem("\n".join(problems))
        return self


class UserTable(Table):
    name: Required
    permissions: list[PermissionWord]
    language: Annotated[str, AfterValidator(_language_or_empty)] = ""  # "" = [clinic] default_language
    email: Annotated[str, AfterValidator(_one_address)] = ""  # where their test emails go
    app_id: str = ""


# the file's tables, in the order they are read and reported; [users.LOGIN] are UserTable
SECTIONS: dict[str, type[Table]] = {
    "clinic": ClinicTable,
    "database": DatabaseTable,
    "email": EmailTable,
    "gateway": GatewayTable,
    "scheduler": SchedulerTable,
    "sending": SendingTable,
}
REQUIRED_SECTIONS = ("clinic", "database")


def _keys(model: type[Table]) -> tuple[str, ...]:
    return tuple(f.alias or k for k, f in model.model_fields.items())


# every table's keys as the file spells them
SCHEMA: dict[str, tuple[str, ...]] = {name: _keys(model) for name, model in SECTIONS.items()}


def validate(name: str, model: type[Table], table: Any, problems: list[str]) -> dict[str, Any] | None:
    """`table` read against `model`: its values by the file's key names, or None with every
    problem appended to `problems` as one line naming `name.key`."""
    if not isinstance(table, dict):
        problems.append(_("{name}: expected a table [{name}]").format(name=name))
        return None
    try:
        return model.model_validate(table).model_dump(by_alias=True)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            problems.extend(_lines(name, model, table, err))
        return None


# pydantic's own sentences are English: each kind of error is said here, the key path
# first (`email.max_per_minute: …`), in the staff member's language
_TYPE_NAMES = {
    "string_type": N_("expected a string, got {type} {value!r}"),
    "int_type": N_("expected an integer, got {type} {value!r}"),
    "float_type": N_("expected a number, got {type} {value!r}"),
    "list_type": N_("expected a list, got {type} {value!r}"),
    "bool_type": N_("expected true or false, got {type} {value!r}"),
}
_MISSING_AS = {
    str: N_("required key is missing (a string)"),
    int: N_("required key is missing (an integer)"),
    float: N_("required key is missing (a number)"),
    list: N_("required key is missing (a list)"),
    bool: N_("required key is missing (true or false)"),
}


def _lines(name: str, model: type[Table], table: dict, err: Any) -> list[str]:
    """One pydantic error in clinicast's words: `name.key: what was expected, got what`."""
    loc, kind = err["loc"], err["type"]
    if kind == "clinicast":  # a rule across keys: already one line per problem, key first
        return err["msg"].split("\n")
    key = str(loc[0]) if loc else ""
    path, value = f"{name}.{key}", table.get(key)
    if kind == "extra_forbidden":
        return [_("{key}: unknown key; expected one of {keys}").format(key=path, keys=", ".join(_keys(model)))]
    if kind == "missing":
        field = next((f for k, f in model.model_fields.items() if (f.alias or k) == key), None)
        return [f"{path}: " + _(_MISSING_AS.get(getattr(field, "annotation", str), _MISSING_AS[list]))]
    if kind == "blank":
        return [_("{key}: must not be empty").format(key=path)]
    if kind == "path":
        return [
            _("{key}: expected a file path without control characters, got {value!r}").format(key=path, value=value)
        ]
    if kind == "address":
        return [_("{key}: expected one address like name@example.org, got {value!r}").format(key=path, value=value)]
    of_list = len(loc) > 1  # a list's item
    if kind in ("literal_error", "enum"):
        expected = ", ".join(repr(c) for c in re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", "")))
        if of_list:
            return [
                _("{key}: expected a list of {choices}, got {value!r}").format(key=path, choices=expected, value=value)
            ]
        return [_("{key}: expected one of {choices}, got {value!r}").format(key=path, choices=expected, value=value)]
    if of_list:
        return [_("{key}: expected a list of strings, got {value!r}").format(key=path, value=value)]
    words = _TYPE_NAMES.get(kind, N_("expected a value of another type, got {type} {value!r}"))
    return [f"{path}: " + _(words).format(type=type(value).__name__, value=value)]


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
    "SchedulerTable",
    "SendingTable",
    "Table",
    "UserTable",
    "validate",
]
