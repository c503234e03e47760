"""What every benchmark needs: a config + bound database in a folder, on SQLite and,
when CLINICAST_TEST_PG_URL is set, on PostgreSQL in a schema made for the run."""

from __future__ import annotations

import contextlib
import os
import pwd
import uuid
from collections.abc import Iterator
from pathlib import Path

from core import config as cfg
from core import db as dbmod
from core.context import Ctx, for_current_user


def bench_ctx(folder: Path, url: str) -> Ctx:
    """A migrated database at `url` and a Ctx for the current login as admin; local sinks."""
    login = pwd.getpwuid(os.geteuid()).pw_name
    p = folder / "bench.toml"
    p.write_text(
        f'[clinic]\nname = "Bench"\n[database]\nurl = "{url}"\n'
        f'[gateway]\ntransport = "log"\npath = "{folder}/g.log"\n'
        f'[email]\ntransport = "maildir"\npath = "{folder}/mail"\n'
        # a bench measures sending at any hour (SPEC §11's hours would defer it)
        '[sending]\nhours = "00:00-24:00"\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f'[users.{login}]\nname = "Bench"\npermissions = ["admin"]\n',
        encoding="utf-8",
    )
    config = cfg.load(p, env={})
    dbmod.bind(config.database.url)
    dbmod.migrate()
    return for_current_user(config)


@contextlib.contextmanager
def _pg_schema(pg: str) -> Iterator[str]:
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            sep = "&" if "?" in pg else "?"
            yield f"{pg}{sep}options=-csearch_path%3D{schema}"
        finally:
            if dbmod.database.obj is not None:
                dbmod.database.obj.close()
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def backends(folder: Path) -> Iterator[tuple[str, str]]:
    """(label, database URL) for SQLite, then PostgreSQL when CLINICAST_TEST_PG_URL is set."""
    yield "sqlite", f"sqlite:///{(folder / 'bench.db').as_posix().lstrip('/')}"
    pg = os.environ.get("CLINICAST_TEST_PG_URL")
    if pg:
        with _pg_schema(pg) as url:
            yield "postgresql", url
