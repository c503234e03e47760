"""What every benchmark needs: a config + bound database in a folder, on SQLite and,
when CLINICAST_TEST_PG_URL is set, on PostgreSQL in a schema made for the run."""

from __future__ import annotations

import contextlib
import os
import pwd
import statistics
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

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


def pg_base_url() -> str:
    return os.environ.get("CLINICAST_TEST_PG_URL", "")


def backends(folder: Path) -> Iterator[tuple[str, str]]:
    """(label, database URL) for SQLite, then PostgreSQL when CLINICAST_TEST_PG_URL is set."""
    yield "sqlite", f"sqlite:///{(folder / 'bench.db').as_posix().lstrip('/')}"
    pg = pg_base_url()
    if pg:
        with _pg_schema(pg) as url:
            yield "postgresql", url


def median_of(measure: Callable[[], float], runs: int = 3) -> float:
    """The median of `runs` measurements (never the best: a lucky run proves nothing)."""
    return statistics.median(measure() for _ in range(runs))


@dataclass
class Row:
    what: str  # what is measured, in words (with the real count: "Assign 4,987 by conditions")
    seconds: float
    target: float | None = None  # at most this many seconds
    baseline: float | None = None  # a bare loop doing the same work, same run
    baseline_what: str = ""

    def text(self) -> str:
        out = f"  {self.what:64} {self.seconds:8.3f} s"
        if self.target is not None:
            verdict = "ok" if self.seconds <= self.target else "OVER"
            out += f"   target ≤ {self.target:g} s: {verdict}"
        if self.baseline is not None:
            out += f"   bare {self.baseline:.3f} s ({self.baseline_what})"
            if self.baseline:
                out += f", x{self.seconds / self.baseline:.2f}"
        return out


@dataclass
class Figures:
    """A benchmark's rows: each a median of three, its target and its bare baseline."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    echo: ClassVar[bool] = False  # print each row as it comes (`python -m bench` does)

    def row(self, what: str, seconds: float, target: float | None = None, **baseline) -> float:
        self.rows.append(Row(what, seconds, target, **baseline))
        if self.echo:
            print(self.rows[-1].text(), flush=True)
        return seconds

    def note(self, text: str) -> None:
        self.notes.append(text)
        if self.echo:
            print(f"  ({text})", flush=True)

    def text(self) -> str:
        return "\n".join([*(r.text() for r in self.rows), *(f"  ({n})" for n in self.notes)])

    def ok(self) -> bool:
        return all(r.target is None or r.seconds <= r.target for r in self.rows)
