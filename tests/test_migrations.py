"""The numbered migrations: a version-1 database, as it shipped, migrates to exactly the
schema the live models declare, keeping its data — on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from datetime import datetime

import peewee as pw
from playhouse.migrate import SchemaMigrator
from playhouse.schema_diff import diff_models

from core import db as dbmod
from core import migrations
from core.models import ALL_MODELS, POSTGRESQL_ONLY_INDEXES, Delivery, Patient, Recipient, database

T0 = datetime(2026, 3, 2, 14, 0)


def _schema_diff():
    """What the database holds beyond or short of the models, but for the indexes only
    PostgreSQL has (core.models.POSTGRESQL_ONLY_INDEXES), checked on their own below."""
    diff = diff_models(database.obj, ALL_MODELS)
    own = {(t, n) for t, names in POSTGRESQL_ONLY_INDEXES.items() for n in names} if dbmod.is_postgres() else set()
    return diff._replace(drop_indexes=[i for i in diff.drop_indexes if (i.table, i.name) not in own])


def _build_v1() -> None:
    """What `clinicast init` of version 1 made: the frozen step 1, recorded in meta only."""
    step = importlib.import_module("core.migrations.0001_initial")
    db = database.obj
    step.up(SchemaMigrator.from_database(db), db)
    ins = f"INSERT INTO meta (key, value) VALUES ({db.param}, {db.param})"
    db.execute_sql(ins, ["schema_version", "1"])
    p = db.param
    db.execute_sql(
        "INSERT INTO patient (emr_id, first_name, last_name, sex, language, email, phone, marketing_consent,"
        " push_enabled, do_not_contact, practitioner, postal_code, search_name, imported_at, updated_at)"
        f" VALUES ({', '.join([p] * 15)})",
        ["000123", "Léa", "Roy", "F", "fr", "lea@example.org", "", True, True, False, "", "", "roy lea", T0, T0],
    )
    db.execute_sql(
        "INSERT INTO campaign (uuid, kind, name, archived, created_at, created_by, updated_at, content_version)"
        f" VALUES ({', '.join([p] * 8)})",
        ["u-1", "invitation", "Old", False, T0, "admin", T0, 1],
    )
    db.execute_sql(
        "INSERT INTO recipient (campaign_id, patient_id, status, reason, added_at, added_by, in_feed)"
        f" VALUES (1, 1, 'skipped', 'already on the patient app', {p}, 'admin', {p})",
        [T0, False],
    )
    db.execute_sql(
        "INSERT INTO delivery (kind, campaign_id, recipient_id, idempotency_key, status, due_at, attempts,"
        " claimed_by, lease_until, last_error, created_at, content_version)"
        f" VALUES ('email', 1, 1, 'k-1', 'sending', {p}, 1, 'h:1', {p}, 'SMTP timed out', {p}, 1)",
        [T0, T0, T0],
    )


def _columns(table: str) -> dict[str, tuple[str, bool]]:
    return {c.name: (c.data_type.lower(), c.null) for c in database.get_columns(table)}


def test_version_1_migrates_to_what_the_models_declare(db_url):
    dbmod.bind(db_url)
    _build_v1()
    assert dbmod.schema_version() == 1
    with_check = dbmod.migrate()
    assert with_check == (1, migrations.LATEST)
    assert dbmod.schema_version() == migrations.LATEST
    diff = _schema_diff()
    assert not diff, str(diff)

    # every column as nullable (or not) as its model field says
    for model in ALL_MODELS:
        columns = _columns(model._meta.table_name)
        for field in model._meta.sorted_fields:
            if not field.primary_key:
                assert columns[field.column_name][1] == field.null, f"{model.__name__}.{field.name} nullability"

    # the data came along: keys, reason codes, a row that was possibly in flight
    p = Patient.get()
    assert (p.emr_id, p.emr_key) == ("000123", "123")
    r = Recipient.get()
    assert (r.reason_code, r.reason) == ("already_on_app", "already on the patient app")
    d = Delivery.get()
    assert (d.error_code, d.handed_at, d.outcomes_unknown) == ("send_error", T0, 0)
    # 0007: no first copy of unknown outcome recorded before it; the partial index counts them
    assert (d.first_unknown_at, r.first_copy_at) == (None, None)
    assert "recipient_first_copy" in {i.name for i in database.get_indexes("recipient")}
    # and a set-based insert that names only version 1's columns still works
    database.execute_sql(
        "INSERT INTO recipient (campaign_id, patient_id, status, reason, added_at, added_by, in_feed)"
        f" SELECT 1, 1, 'assigned', '', {database.param}, 'x', {database.param} WHERE 1 = 0",
        [T0, False],
    )
    assert dbmod.migrate() == (migrations.LATEST, migrations.LATEST)


def test_a_fresh_database_is_the_models(db_url):
    dbmod.bind(db_url)
    assert dbmod.migrate() == (0, migrations.LATEST)
    assert not _schema_diff()


def test_migrations_never_import_the_live_models():
    for name in migrations.names():
        source = (migrations.DIRECTORY / f"{name}.py").read_text(encoding="utf-8")
        assert "core.models" not in source and "from .." not in source, name


def test_numbers_are_a_sequence():
    assert [migrations.number(n) for n in migrations.names()] == list(range(1, migrations.LATEST + 1))


def test_peewee_types_are_what_we_expect():
    # a guard for the comparison above: nullability read from the database is meaningful
    assert isinstance(Delivery.handed_at, pw.DateTimeField) and Delivery.handed_at.null


def _tally() -> dict[tuple[int, str], int]:
    rows = database.execute_sql("SELECT campaign, status, SUM(n) FROM recipient_tally GROUP BY campaign, status")
    return {(c, s): int(n) for c, s, n in rows.fetchall() if n}


def _recipients() -> dict[tuple[int, str], int]:
    rows = database.execute_sql("SELECT campaign_id, status, COUNT(*) FROM recipient GROUP BY campaign_id, status")
    return {(c, s): int(n) for c, s, n in rows.fetchall()}


def test_version_8_migrates_to_lighter_status_changes(db_url):
    """0009: the claimed rows' partial index replaces (claimed_by, status); SQLite's tally
    triggers, rewritten, still count exactly — a pair new to a campaign, a move, a
    statement that moves many, an insert into an existing pair."""
    dbmod.bind(db_url)
    dbmod._runner().up(target="0008_outbox_retention")
    assert dbmod.schema_version() == 8
    p = database.param
    for i in range(4):
        database.execute_sql(
            f"INSERT INTO patient (emr_id, emr_key, search_name, imported_at, updated_at, first_name, last_name, sex,"
            f" language, email, phone, marketing_consent, push_enabled, do_not_contact, practitioner, postal_code)"
            f" VALUES ({p}, {p}, '', {p}, {p}, '', '', '', 'fr', '', '', {p}, {p}, {p}, '', '')",
            [str(i), str(i), T0, T0, True, True, False],
        )
    database.execute_sql(
        "INSERT INTO campaign (uuid, kind, name, archived, created_at, created_by, updated_at, content_version)"
        f" VALUES ('u-9', 'invitation', 'Nine', {p}, {p}, 'admin', {p}, 1)",
        [False, T0, T0],
    )
    add = (
        "INSERT INTO recipient (campaign_id, patient_id, status, reason_code, reason, added_at, added_by, in_feed)"
        f" VALUES (1, {p}, {p}, '', '', {p}, 'admin', {p})"
    )
    database.execute_sql(add, [1, "assigned", T0, False])
    assert dbmod.migrate() == (8, migrations.LATEST)
    names = {i.name for i in database.get_indexes("delivery")}
    assert "delivery_claimed" in names and "delivery_claimed_by_status" not in names
    assert not _schema_diff()

    assert _tally() == _recipients() == {(1, "assigned"): 1}
    database.execute_sql(add, [2, "assigned", T0, False])  # a pair that has its row
    database.execute_sql(add, [3, "queued", T0, False])  # a pair new to the campaign
    assert _tally() == _recipients() == {(1, "assigned"): 2, (1, "queued"): 1}
    database.execute_sql("UPDATE recipient SET status = 'sent' WHERE patient_id = 1")  # one moves
    database.execute_sql("UPDATE recipient SET status = 'queued' WHERE status <> 'queued'")  # many at once
    database.execute_sql(add, [4, "sent", T0, False])
    database.execute_sql("UPDATE recipient SET reason = 'x' WHERE patient_id = 4")  # no status change
    assert _tally() == _recipients() == {(1, "queued"): 3, (1, "sent"): 1}
    database.execute_sql("DELETE FROM recipient WHERE patient_id = 4")
    assert _tally() == _recipients() == {(1, "queued"): 3}


def test_postgresql_pages_keep_room_for_updates(db_url):
    """0010: on PostgreSQL the outbox and the recipients keep 30 % of a page free, so an
    update that changes no indexed column (the hand-over) stays on its page."""
    dbmod.bind(db_url)
    dbmod.migrate()
    if not dbmod.is_postgres():
        assert dbmod.schema_version() == migrations.LATEST  # nothing to set on SQLite
        return
    rows = database.execute_sql(
        "SELECT relname, reloptions FROM pg_class WHERE relname IN ('delivery', 'recipient', 'patient')"
        " AND relnamespace = to_regnamespace(current_schema())::oid"
    ).fetchall()
    options = {name: opts for name, opts in rows}
    assert options["delivery"] == options["recipient"] == ["fillfactor=70"]
    assert options["patient"] is None


def test_postgresql_indexes_the_practitioner_as_conditions_compare_it(db_url):
    """0013: on PostgreSQL, `practitioner = X` reads the index of lower(practitioner) —
    the expression `core.conditions` writes, or the planner could never use it; SQLite
    has no such index (its lower() is clinicast's own function)."""
    from core import conditions

    dbmod.bind(db_url)
    dbmod.migrate()
    names = {i.name for i in database.get_indexes("patient")}
    only_postgresql = set(POSTGRESQL_ONLY_INDEXES["patient"])
    if not dbmod.is_postgres():
        assert not only_postgresql & names
        return
    assert only_postgresql <= names
    query = Patient.select(Patient.id).where(
        conditions.compile([conditions.parse("practitioner = Dre Émilie Côté")], T0.date())
    )
    sql, params = query.sql()
    with database.atomic() as txn:
        database.execute_sql("SET LOCAL enable_seqscan = off")  # a test table is small
        plan = "\n".join(r[0] for r in database.execute_sql("EXPLAIN " + sql, params).fetchall())
        txn.rollback()
    assert "patient_practitioner_lower" in plan, plan
