"""Numbered schema migrations (`NNNN_name.py`), applied in order by `clinicast init`.

Each file defines `up(migrator, db)` in peewee's `playhouse.migrations` style and is
run by its `Runner`, which records what was applied in the `schema_migration` table,
each step in its own transaction. A migration holds a *frozen* copy of whatever tables
it creates, never an import of `core.models`: a shipped step must build the same
schema forever. Never edit a migration that has shipped; add the next one
(`tests/test_migrations.py` checks that the steps end at exactly what the models declare).
"""

from __future__ import annotations

import re
from pathlib import Path

DIRECTORY = Path(__file__).parent
HISTORY_TABLE = "schema_migration"


def names() -> list[str]:
    """Every migration, in order ("0001_initial", ...)."""
    return sorted(p.stem for p in DIRECTORY.glob("[0-9][0-9][0-9][0-9]_*.py"))


def number(name: str) -> int:
    m = re.match(r"\d+", name)
    return int(m.group()) if m else 0


LATEST = number(names()[-1])
