"""The config file's schema (SPEC §8): every section's keys, their types and defaults,
the keys with a fixed set of values, and `read_section()` that reads one table against it.

A key not in the schema is refused (a typo never goes unnoticed); the range and shape
checks of the values that pass are core.config.checks.
"""

from __future__ import annotations

from typing import Any

from core.enums import Language, Permission

# the words as the file spells them; their one definition is core.enums
PERMISSIONS: tuple[str, ...] = tuple(p.value for p in Permission)
LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in Language)

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
        "max_per_minute": (int, 0),
        "max_per_day": (int, 0),
        "dkim_key_file": (str, ""),
        "dkim_selector": (str, ""),
        "dkim_domain": (str, ""),
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


def read_section(name: str, table: dict, keys: dict, problems: list[str]) -> dict:
    """One table read against its `keys` (SCHEMA[section] or USER_SCHEMA): unknown keys,
    missing required keys and wrong types go to `problems`; what passed is returned."""
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
