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

from core import audit, emr
from core.db import is_postgres, write_transaction
from core.enums import Permission
from core.models import Invitation, Patient, database
from core.optouts.ledger import kept_by_import
from core.patients.cells import DATE_FIELDS, _name_keys, name_key
from core.patients.columns import FIELDS
from core.patients.validate import Directory, read_patients


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


CHUNK = 5000


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
    now = ctx.now()
    directory = read_patients(path, ctx.today())
    table, fields, ignored, n = directory.table, directory.fields, directory.ignored_columns, len(directory)
    pg = is_postgres()

    with_name = "first_name" in fields and "last_name" in fields
    fix_names = ("first_name" in fields) != ("last_name" in fields)
    # every column is inserted (peewee's defaults live in Python, not in the table);
    # only the file's columns are updated
    cols = list(FIELDS) + ["search_name", "emr_key", "imported_at", "updated_at"]
    params = _params(directory.columns, n, now, pg)
    # an id matches a stored one by its key (`00001` updates patient `1`), and takes the
    # file's spelling
    data_cols = ["emr_id", *fields[1:]] + (["search_name"] if with_name else [])
    t = Patient._meta.table_name

    with write_transaction():
        before = Patient.select().count()
        changed = _upsert(t, cols, data_cols, params, pg)
        inserted = Patient.select().count() - before
        if fix_names:
            changed_names = _refresh_search_names(directory.columns["emr_id"])
            changed = max(changed, changed_names)
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
        kept = _kept_opted_out(directory)
        result = ImportResult(
            kept_opted_out=kept,
            inserted=inserted,
            updated=updated,
            total=n,
            joined=joined,
            unchanged=n - inserted - updated,
            ignored_columns=ignored,
            columns=directory.names,
            encoding=table.encoding,
            delimiter=table.delimiter,
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
            ignored_columns=ignored,
            kept_opted_out=kept,
        )
    return result


def _kept_opted_out(directory: Directory) -> int:
    consent, dnc = directory.columns.get("marketing_consent"), directory.columns.get("do_not_contact")
    if consent is None and dnc is None:
        return 0
    n = len(directory)
    consent_yes = [consent is not None and consent[i] is True for i in range(n)]
    contact_yes = [dnc is not None and dnc[i] is False for i in range(n)]
    return kept_by_import(directory.columns["emr_id"], consent_yes, contact_yes)


def _upsert(t: str, cols: list[str], data_cols: list[str], params: list[tuple], pg: bool) -> int:
    """INSERT ... ON CONFLICT (emr_id) DO UPDATE the rows whose values differ; the
    number of rows inserted or changed. PostgreSQL: COPY into a temporary table, then
    one INSERT ... SELECT. SQLite: executemany of the same statement, in chunks."""
    collist = ", ".join(cols)
    conflict = "ON CONFLICT (emr_key) "
    if data_cols:
        distinct = "IS DISTINCT FROM" if pg else "IS NOT"
        sets = ", ".join(f"{c} = excluded.{c}" for c in data_cols + ["updated_at"])
        old = ", ".join(f"{t}.{c}" for c in data_cols)
        new = ", ".join(f"excluded.{c}" for c in data_cols)
        conflict += f"DO UPDATE SET {sets} WHERE ({old}) {distinct} ({new})"
    else:
        conflict += "DO NOTHING"
    cursor = database.cursor()
    if pg:
        # COPY to a temporary table; then one set-based UPDATE (a hash join, much faster
        # than 100,000 conflict checks) and an INSERT of the new EMR ids. The INSERT keeps
        # its ON CONFLICT for an import of the same ids committed meanwhile.
        cursor.execute(
            f"CREATE TEMPORARY TABLE clinicast_import ON COMMIT DROP AS SELECT {collist} FROM {t} WITH NO DATA"
        )
        with cursor.copy(f"COPY clinicast_import ({collist}) FROM STDIN") as copy:
            for r in params:
                copy.write_row(r)
        changed = 0
        if data_cols:
            sets = ", ".join(f"{c} = i.{c}" for c in data_cols + ["updated_at"])
            old = ", ".join(f"p.{c}" for c in data_cols)
            new = ", ".join(f"i.{c}" for c in data_cols)
            cursor.execute(
                f"UPDATE {t} AS p SET {sets} FROM clinicast_import AS i "
                f"WHERE p.emr_key = i.emr_key AND ({old}) IS DISTINCT FROM ({new})"
            )
            changed = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {t} ({collist}) SELECT {collist} FROM clinicast_import AS i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {t} AS p WHERE p.emr_key = i.emr_key) {conflict}"
        )
        changed += cursor.rowcount
        cursor.execute("DROP TABLE clinicast_import")
        return changed
    # SQLite: `INSERT ... SELECT ... ON CONFLICT` needs a WHERE to parse; VALUES is simpler
    sql = f"INSERT INTO {t} ({collist}) VALUES ({', '.join(['?'] * len(cols))}) {conflict}"
    changed = 0
    for i in range(0, len(params), CHUNK):
        cursor.executemany(sql, params[i : i + CHUNK])
        changed += max(cursor.rowcount, 0)
    return changed


def _params(columns: dict[str, list], n: int, now: datetime, pg: bool) -> list[tuple]:
    """One tuple a row in the order FIELDS + search_name, emr_key, imported_at, updated_at:
    the file's values, the model's defaults for the columns the file lacks."""
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
    out.append([emr.key(e) for e in out[FIELDS.index("emr_id")]])
    stamp = now if pg else str(now)
    out.append([stamp] * n)
    out.append(out[-1])
    return list(zip(*out, strict=False))


def _refresh_search_names(emr_ids: list[str]) -> int:
    """After an import carrying only one of the two name columns: recompute search_name
    from the stored names; the number of patients whose search_name changed."""
    t = Patient._meta.table_name
    p = database.param
    updates = []
    for i in range(0, len(emr_ids), 900):
        q = (
            Patient.select(Patient.id, Patient.first_name, Patient.last_name, Patient.search_name)
            .where(Patient.emr_id.in_(emr_ids[i : i + 900]))
            .tuples()
        )
        for pid, first, last, old in q:
            new = name_key(last, first)
            if new != old:
                updates.append((new, pid))
    if updates:
        database.cursor().executemany(f"UPDATE {t} SET search_name = {p} WHERE id = {p}", updates)
    return len(updates)
