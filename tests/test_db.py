"""Database opening and schema versions."""

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
