"""The one TOML file (SPEC §8): where it is, what it may say, what it means.

load.py     discover, load, from_dict: read the file, collect every problem with its key, build Config
schema.py   the file as typed msgspec Structs (types, defaults, choices, unknown keys); validate()
types.py    the loaded config's dataclasses, one per TOML section, and Config
checks.py   value ranges, URLs, the identification every email carries (email_problems);
            warnings of values that load but mislead (value_warnings)
secrets.py  where a secret lives; read only by the process that sends (SPEC §13)
watch.py    a running session follows its file: re-read on change, the last good one kept
access.py   who may read the file: whose it is and the group to join, when a staff login cannot;
            the host's setup `config check` says (setup_warnings)
reach.py    whether another account may read a file: every folder on the way, the mode, the ACL
"""

from __future__ import annotations

from core.config.checks import email_problems
from core.config.load import discover, from_dict, load
from core.config.schema import SCHEMA
from core.config.types import Config, EmailSettings, GatewaySettings, User
from core.errors import ConfigError

__all__ = [
    "SCHEMA",
    "Config",
    "ConfigError",
    "EmailSettings",
    "GatewaySettings",
    "User",
    "discover",
    "email_problems",
    "from_dict",
    "load",
]
