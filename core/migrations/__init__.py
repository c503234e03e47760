"""Numbered schema migrations, applied in order by `clinicast init`.

Each step takes the database and runs in its own transaction. Never edit a step that
has shipped: add the next one (playhouse.migrate's SchemaMigrator for column changes).
"""

from __future__ import annotations

from ..models import ALL_MODELS


def _v1_initial(db) -> None:
    db.create_tables(ALL_MODELS)


STEPS = [
    (1, _v1_initial),
]
LATEST = STEPS[-1][0]
