"""The import itself: the upsert by EMR id in one transaction (SQLite: executemany of
`INSERT ... ON CONFLICT`; PostgreSQL: COPY, one UPDATE ... FROM, one INSERT ... SELECT),
invitations marked joined, the audit row."""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from core import audit
from core.db import is_postgres, write_transaction
from core.enums import Permission
from core.models import Invitation, Patient, database
from core.optouts.ledger import KeptByImport
from core.patients.cells import DATE_FIELDS, _name_keys, name_key
from core.patients.columns import FIELDS
from core.patients.reader import Chunk, DirectoryReader

# SQLite: a file whose first chunk is full, into a directory of fewer patients than this,
# is written with the indexes built after (`_Writer.bulk`); a re-import of the directory
# (most rows unchanged, so not written) keeps them
BULK_BELOW = 20_000
BULK_KEEPS = "patient_emr_key"  # the upsert's conflict target


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    total: int
    joined: int = 0
    unchanged: int = 0
    kept_opted_out: int = 0  # rows saying "contact them" for a patient who opted out (SPEC §10)
    ignored_columns: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> column as written
    encoding: str = ""
    delimiter: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector: reading 100,000 rows allocates millions of
    acyclic objects, and its passes over them cost a third of the import."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def import_csv(ctx, path: os.PathLike | str) -> ImportResult:
    """Upsert the patient directory from an EMR export (admin). All or nothing:
    FileProblems (a BadInput) lists every bad row and nothing is written."""
    ctx.require(Permission.ADMIN)
    with _gc_paused():
        return _import(ctx, path)


def _import(ctx, path: os.PathLike | str) -> ImportResult:
    """Read, check and write a chunk at a time in one transaction: a chunk is written as
    soon as it is checked; at the first problem writing stops (reading goes on, so every
    problem is listed) and the transaction is rolled back."""
    now = ctx.now()
    pg = is_postgres()
    t = Patient._meta.table_name
    cols = list(FIELDS) + ["search_name", "emr_key", "imported_at", "updated_at"]
    with DirectoryReader(path, ctx.today()) as reader, write_transaction():
        fields = reader.fields
        with_name = "first_name" in fields and "last_name" in fields
        fix_names = ("first_name" in fields) != ("last_name" in fields)
        # an id matches a stored one by its key (`00001` updates patient `1`), and takes the
        # file's spelling; every column is inserted (peewee's defaults live in Python, not
        # in the table), only the file's columns are updated
        data_cols = ["emr_id", *fields[1:]] + (["search_name"] if with_name else [])
        writer = _Writer(t, cols, data_cols, pg)
        kept = _KeptOptedOut(fields)
        before = Patient.select().count()
        n = 0
        for chunk in reader.chunks():
            if chunk is None:
                continue
            if not n and not pg and before < BULK_BELOW and len(chunk) >= reader.chunk_rows:
                writer.bulk()  # a first import of a big directory: the indexes built after
            n += len(chunk)
            writer.write(_params(chunk, now, pg))
            kept.add(chunk)
            if fix_names and not pg:  # PostgreSQL writes at the end (writer.finish)
                writer.changed = max(writer.changed, _refresh_search_names(chunk.keys))
        reader.finish()
        changed = writer.finish()
        writer.reindex()
        inserted = Patient.select().count() - before
        if fix_names and pg:
            changed = max(changed, writer.refresh_search_names())
        joined = 0
        if "app_id" in fields:
            joined = (
                Invitation.update(joined_at=now)
                .where(
                    Invitation.joined_at.is_null(),
                    Invitation.patient.in_(Patient.select(Patient.id).where(Patient.app_id.is_null(False))),
                )
                .execute()
            )
        updated = changed - inserted
        result = ImportResult(
            kept_opted_out=kept.n,
            inserted=inserted,
            updated=updated,
            total=n,
            joined=joined,
            unchanged=n - inserted - updated,
            ignored_columns=reader.ignored_columns,
            columns=reader.names,
            encoding=reader.encoding,
            delimiter=reader.delimiter,
        )
        audit.record(
            ctx,
            "import",
            file=str(Path(path).resolve()),
            inserted=inserted,
            updated=updated,
            unchanged=result.unchanged,
            total=n,
            joined=joined,
            ignored_columns=reader.ignored_columns,
            kept_opted_out=kept.n,
        )
    return result


class _KeptOptedOut:
    """core.optouts' count of rows that said "contact them" for a patient who opted out,
    fed a chunk at a time (nothing to ask when the file has neither column)."""

    def __init__(self, fields: list[str]) -> None:
        self.asks = "marketing_consent" in fields or "do_not_contact" in fields
        self.counter = KeptByImport() if self.asks else None

    @property
    def n(self) -> int:
        return self.counter.n if self.counter is not None else 0

    def add(self, chunk: Chunk) -> None:
        if self.counter is None or not self.counter.held:
            return
        n = len(chunk)
        consent, dnc = chunk.columns.get("marketing_consent"), chunk.columns.get("do_not_contact")
        consent_yes = [v is True for v in consent] if consent is not None else [False] * n
        contact_yes = [v is False for v in dnc] if dnc is not None else [False] * n
        self.counter.add(chunk.keys, consent_yes, contact_yes)


class _Writer:
    """The upsert by EMR key, a chunk at a time. SQLite: executemany of `INSERT ... ON
    CONFLICT (emr_key) DO UPDATE` the rows whose values differ. PostgreSQL: each chunk
    COPYed to a temporary table, then at the end one set-based UPDATE (a hash join, much
    faster than a million conflict checks) and one INSERT of the new keys (which keeps its
    ON CONFLICT for an import of the same ids committed meanwhile)."""

    def __init__(self, t: str, cols: list[str], data_cols: list[str], pg: bool) -> None:
        self.t, self.cols, self.data_cols, self.pg = t, cols, data_cols, pg
        self.collist = ", ".join(cols)
        self.changed = 0
        self.dropped: list[tuple[str, str]] = []  # (name, CREATE INDEX) while bulk
        self.cursor = database.cursor()
        conflict = "ON CONFLICT (emr_key) "
        if data_cols:
            distinct = "IS DISTINCT FROM" if pg else "IS NOT"
            sets = ", ".join(f"{c} = excluded.{c}" for c in data_cols + ["updated_at"])
            old = ", ".join(f"{t}.{c}" for c in data_cols)
            new = ", ".join(f"excluded.{c}" for c in data_cols)
            conflict += f"DO UPDATE SET {sets} WHERE ({old}) {distinct} ({new})"
        else:
            conflict += "DO NOTHING"
        self.conflict = conflict
        if pg:
            self.cursor.execute(
                f"CREATE TEMPORARY TABLE clinicast_import ON COMMIT DROP AS SELECT {self.collist} FROM {t} WITH NO DATA"
            )
        else:
            # SQLite: `INSERT ... SELECT ... ON CONFLICT` needs a WHERE to parse; VALUES is simpler
            self.sql = f"INSERT INTO {t} ({self.collist}) VALUES ({', '.join(['?'] * len(cols))}) {conflict}"

    def bulk(self) -> None:
        """SQLite: drop the table's indexes but the EMR key's (the upsert's conflict
        target) until `reindex`, in this transaction. Inserting a million rows into six
        B-trees at once cost several times the rows themselves once the trees outgrew the
        page cache (issue #21: 4x to 6x slower than building each index after, in one
        sorted pass). Other connections see the indexes throughout (WAL: they read the
        last commit); a rollback puts them back. The EMR id's unique index is built
        again without fail: two ids with one EMR key are refused by the key's."""
        self.dropped = [
            (name, sql)
            for name, sql in self.cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (self.t,),
            ).fetchall()
            if name != BULK_KEEPS
        ]
        for name, _sql in self.dropped:
            self.cursor.execute(f'DROP INDEX "{name}"')

    def reindex(self) -> None:
        for _name, sql in self.dropped:
            self.cursor.execute(sql)
        self.dropped = []

    def write(self, params: list[tuple]) -> None:
        if self.pg:
            with self.cursor.copy(f"COPY clinicast_import ({self.collist}) FROM STDIN") as copy:
                for r in params:
                    copy.write_row(r)
            return
        self.cursor.executemany(self.sql, params)
        self.changed += max(self.cursor.rowcount, 0)

    def finish(self) -> int:
        """The number of rows inserted or changed."""
        if not self.pg:
            return self.changed
        t, cursor, collist, data_cols = self.t, self.cursor, self.collist, self.data_cols
        if data_cols:
            sets = ", ".join(f"{c} = i.{c}" for c in data_cols + ["updated_at"])
            old = ", ".join(f"p.{c}" for c in data_cols)
            new = ", ".join(f"i.{c}" for c in data_cols)
            cursor.execute(
                f"UPDATE {t} AS p SET {sets} FROM clinicast_import AS i "
                f"WHERE p.emr_key = i.emr_key AND ({old}) IS DISTINCT FROM ({new})"
            )
            self.changed += cursor.rowcount
        cursor.execute(
            f"INSERT INTO {t} ({collist}) SELECT {collist} FROM clinicast_import AS i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS p WHERE p.emr_key = i.emr_key) {self.conflict}"
        )
        self.changed += cursor.rowcount
        return self.changed

    def refresh_search_names(self) -> int:
        """PostgreSQL, after `finish`: the search names of the file's patients again."""
        keys = [k for (k,) in database.execute_sql("SELECT emr_key FROM clinicast_import").fetchall()]
        return _refresh_search_names(keys)


def _params(chunk: Chunk, now: datetime, pg: bool) -> list[tuple]:
    """One tuple a row in the order FIELDS + search_name, emr_key, imported_at, updated_at:
    the file's values, the model's defaults for the columns the file lacks."""
    columns, n = chunk.columns, len(chunk)
    out = []
    for f in FIELDS:
        col = columns.get(f)
        if col is None:
            col = [Patient._meta.fields[f].default] * n
        elif f in DATE_FIELDS and not pg:  # SQLite keeps dates as ISO text, as peewee writes them
            iso = {d: d.isoformat() for d in set(col) if d is not None}
            col = list(map(iso.get, col))
        out.append(col)
    out.append(_name_keys(zip(out[FIELDS.index("last_name")], out[FIELDS.index("first_name")], strict=False)))
    out.append(chunk.keys)  # computed once, when the file was checked
    stamp = now if pg else str(now)
    out.append([stamp] * n)
    out.append(out[-1])
    return list(zip(*out, strict=False))


def _refresh_search_names(emr_keys: list[str]) -> int:
    """After an import carrying only one of the two name columns: recompute search_name
    from the stored names; the number of patients whose search_name changed."""
    t = Patient._meta.table_name
    p = database.param
    updates = []
    for i in range(0, len(emr_keys), 900):
        q = (
            Patient.select(Patient.id, Patient.first_name, Patient.last_name, Patient.search_name)
            .where(Patient.emr_key.in_(emr_keys[i : i + 900]))
            .tuples()
        )
        for pid, first, last, old in q:
            new = name_key(last, first)
            if new != old:
                updates.append((new, pid))
    if updates:
        database.cursor().executemany(f"UPDATE {t} SET search_name = {p} WHERE id = {p}", updates)
    return len(updates)
