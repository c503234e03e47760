"""One way to open a session: config, database, user — used by the CLI, the TUI, the
daemon and the demo. Whatever stops it raises a typed error (core.errors) whose `kind`
says what is wrong, so callers never match the words of a message."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from core import config as cfg
from core import db
from core.context import Ctx, for_current_user
from core.models import utcnow


def load_config(config_path: str | os.PathLike | None = None) -> cfg.Config:
    """The config file (discovered as SPEC §8 says); raises ConfigError."""
    return cfg.load(config_path)


def connect(config: cfg.Config, *, check_schema: bool = True) -> None:
    """Bind the database of `config`; raises DatabaseError unless its schema is current."""
    db.bind(config.database.url, config.database.group, must_exist=True)
    if check_schema:
        db.check_schema()


def open(
    config_path: str | os.PathLike | None = None,
    clock: Callable[[], datetime] = utcnow,
    *,
    check_schema: bool = True,
) -> Ctx:
    """Config, database and the acting user of this process.

    Raises ConfigError (kind no_config / bad_config), DatabaseError (kind empty, behind,
    newer, unreachable, not_writable...), UnknownUser."""
    config = load_config(config_path)
    connect(config, check_schema=check_schema)
    return for_current_user(config, clock)
