"""The temporary tables of one assign (core.recipients.assign): the patients it picked,
evaluated once, and the EMR keys of a list being assigned. Per connection, emptied after
each use. (A list of ids in one step is core.delivery.store.one_of.)"""

from __future__ import annotations

import peewee as pw

from core.db import is_postgres
from core.models import BaseModel, database


class Picked(BaseModel):
    """The patients one assign picked, evaluated once (a per-connection temporary table)."""

    patient = pw.IntegerField(primary_key=True)

    class Meta:
        table_name = "clinicast_picked"


class Keys(BaseModel):
    """The EMR keys of a list being assigned (a per-connection temporary table): the
    list joins the directory instead of travelling as thousands of parameters."""

    key = pw.CharField(primary_key=True, max_length=64)

    class Meta:
        table_name = "clinicast_keys"


def load_keys(keys: list[str]) -> None:
    Keys.create_table(safe=True, temporary=True)
    Keys.delete().execute()
    t, p = Keys._meta.table_name, database.param
    database.cursor().executemany(f'INSERT INTO {t} ("key") VALUES ({p})', [(k,) for k in keys])
    analyze(Keys)


def pick(patients: pw.Select) -> tuple[pw.Select, int]:
    """The patients selected, evaluated once into the temporary table; and how many."""
    Picked.create_table(safe=True, temporary=True)
    Picked.delete().execute()
    matched = Picked.insert_from(patients, [Picked.patient]).on_conflict_ignore().as_rowcount().execute()
    analyze(Picked)
    return Picked.select(Picked.patient), int(matched)


def analyze(table: type[BaseModel]) -> None:
    """PostgreSQL: the planner's statistics of a temporary table just filled (autovacuum
    never sees one). Without them it takes the few thousand rows for a big table and
    joins them to the directory by reading all of it."""
    if is_postgres():
        database.execute_sql(f"ANALYZE {table._meta.table_name}")
