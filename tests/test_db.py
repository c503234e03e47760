"""Database opening and schema versions."""

import peewee as pw
import pytest
from helpers import set_schema_version

from core import db as dbmod
from core import migrations


def test_migrate_is_idempotent_and_versioned(config):
    dbmod.bind(config.database.url)
    assert dbmod.migrate() == (0, migrations.LATEST)
    assert dbmod.migrate() == (migrations.LATEST, migrations.LATEST)
    dbmod.check_schema()


def test_empty_database_asks_for_init(config):
    dbmod.bind(config.database.url)
    with pytest.raises(dbmod.DatabaseError, match="run `clinicast init`"):
        dbmod.check_schema()


def test_newer_schema_is_refused(db):
    set_schema_version(migrations.LATEST + 1)
    with pytest.raises(dbmod.DatabaseError, match="newer than this program"):
        dbmod.check_schema()
    with pytest.raises(dbmod.DatabaseError, match="upgrade clinicast"):
        dbmod.migrate()


def test_sqlite_pragmas(sqlite_url):
    database = dbmod.bind(sqlite_url)
    dbmod.migrate()
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_lower_folds_accented_capitals_on_both_backends(db, config):
    from helpers import add_patients, ctx_at

    from core import conditions

    add_patients(1, practitioner="Dre ÉMILIE Côté")
    ctx = ctx_at(config)[0]
    assert conditions.count(ctx, [conditions.parse("practitioner = dre émilie côté")]) == 1
    assert conditions.count(ctx, [conditions.parse("practitioner contains ÉMILIE")]) == 1


# A transaction is whole whatever runs first in it: a statement, a cursor taken by hand
# (executemany), a model; a statement that fails ends it, and the next one works.

_ROW = (
    "INSERT INTO heartbeat (name, host, pid, role, version, os_user, started_at, beat_at)"
    " VALUES ({p}, 'h', 1, 'daemon', '0', '', {p}, {p})"
)


def _beats() -> list[str]:
    from core.models import Heartbeat

    return sorted(h.name for h in Heartbeat.select())


@pytest.mark.parametrize("first", ["execute_sql", "cursor", "model"])
def test_a_transaction_that_fails_leaves_nothing_whatever_runs_first(db, first):
    from core.models import Heartbeat, utcnow

    now, p = utcnow(), db.param
    with pytest.raises(RuntimeError), dbmod.write_transaction():
        if first == "execute_sql":
            db.execute_sql(_ROW.format(p=p), ("one", now, now))
        elif first == "cursor":  # a cursor taken by hand (executemany): in the transaction too
            db.cursor().executemany(_ROW.format(p=p), [("one", now, now), ("two", now, now)])
        else:
            Heartbeat.create(name="one", host="h", pid=1, role="daemon", version="0")
        assert _beats()  # seen inside
        raise RuntimeError("undo")
    assert _beats() == []
    assert not db.in_transaction()


def test_a_statement_that_fails_first_ends_its_transaction_and_the_next_one_works(db):
    from core.models import utcnow

    now, p = utcnow(), db.param
    with pytest.raises(pw.DatabaseError), dbmod.write_transaction():
        db.execute_sql("SELECT no_such_column FROM heartbeat")
    with dbmod.write_transaction():
        db.execute_sql(_ROW.format(p=p), ("after", now, now))
    with dbmod.write_transaction():
        pass  # a transaction that runs nothing
    assert _beats() == ["after"]
    db.execute_sql(_ROW.format(p=p), ("alone", now, now))  # outside any transaction: kept at once
    assert _beats() == ["after", "alone"]
