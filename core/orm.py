"""peewee without the PostgreSQL driver until a PostgreSQL database is opened.

peewee imports psycopg when it is itself imported, whatever the database: on SQLite
that was 110 ms of every `clinicast` command's 190 (issue #21). `core/__init__` installs
`defer_driver()`, so the first `import peewee` runs with psycopg out of its reach;
`load_driver()` (core.db, for a postgresql:// URL) imports psycopg and gives peewee
what its own import would have set. When psycopg is already loaded (a test harness, a
tool that imported it first), peewee imports as usual and nothing here changes it.
"""

from __future__ import annotations

import importlib.machinery
import sys
from types import ModuleType


class _Loader:
    """peewee's own loader, run with `import psycopg` failing (peewee then sets
    `psycopg = None`, as on a machine without it). A loader and a finder by their methods
    alone: importing importlib.abc (importlib.resources, tempfile...) cost a third of
    `clinicast --version` (issue #21)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        blocked = "psycopg" not in sys.modules
        if blocked:
            sys.modules["psycopg"] = None  # type: ignore[assignment]  # the import system's "absent"
        try:
            self.inner.exec_module(module)
        finally:
            if blocked and sys.modules.get("psycopg", 0) is None:
                del sys.modules["psycopg"]


class _Finder:
    def find_spec(self, fullname, path, target=None):
        if fullname != "peewee" or "psycopg" in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)  # type: ignore[assignment]  # a Loader by its methods
        return spec


def defer_driver() -> None:
    if "peewee" not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def load_driver() -> None:
    """psycopg, imported and handed to peewee (what peewee's import does when it finds it)."""
    import peewee
    import psycopg
    from psycopg.pq import TransactionStatus
    from psycopg.types.json import Json, Jsonb

    if peewee.psycopg is None:
        peewee.psycopg, peewee.TransactionStatus = psycopg, TransactionStatus
        peewee.Json_pg3, peewee.Jsonb_pg3 = Json, Jsonb
        adapter = peewee.Psycopg3Adapter
        adapter.txn_idle = TransactionStatus.IDLE
        adapter.txn_inerror = TransactionStatus.INERROR
        adapter.txn_unknown = TransactionStatus.UNKNOWN
