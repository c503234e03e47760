"""The number of patients and of outbox rows `clinicast status` shows, kept by the
database's triggers (issue #21, migrations 0011 and 0012: both on PostgreSQL, the
outbox's on SQLite, which counts its patients' b-tree): whatever
adds or deletes such rows — an import, a re-import that updates, a campaign started and
sent, outbox retention, a deleted campaign, a statement the application never makes —
`core.tally.rows` reads exactly what counting the rows gives; the fold changes no count.
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import add_patients, ctx_at
from servers import delivery_config
from test_tally import T0, TPL

from core import campaigns, migrations, recipients, status, tally
from core.db import is_postgres
from core.delivery import Dispatcher, retention
from core.models import Campaign, Delivery, Patient, RowCount, database
from core.patients import upsert


def truth() -> tuple[int, int]:
    return Patient.select().count(), Delivery.select().count()


def kept() -> tuple[int, int]:
    return tally.rows(Patient), tally.rows(Delivery)


def _csv(tmp_path, rows: list[str]):
    p = tmp_path / "export.csv"
    header = "emr_id,first_name,last_name,email,app_id,marketing_consent,do_not_contact"
    p.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return p


@pytest.fixture
def env(db, db_url, tmp_path, smtp, gw):
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    ctx, clock = ctx_at(config, T0)
    d = Dispatcher(config, clock=clock)
    yield ctx, clock, d
    d.close()


def test_every_row_added_or_deleted_is_counted(env, tmp_path):
    ctx, clock, dispatcher = env
    assert kept() == truth() == (0, 0)
    rows = [f"{i},P{i},N{i},p{i}@example.org,{'a-' + str(i) if i % 2 else ''},oui,non" for i in range(1, 9)]
    upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert kept() == truth() == (8, 0)
    # a re-import: 2 changed (updated, not counted again), 3 new
    rows[0], rows[1] = "1,Une,Autre,p1@example.org,a-1,oui,non", "2,Deux,Autre,p2@example.org,,oui,non"
    rows += [f"{i},P{i},N{i},p{i}@example.org,,oui,non" for i in range(9, 12)]
    r = upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert (r.inserted, r.updated) == (3, 2)
    assert kept() == truth() == (11, 0)

    ids = [str(i) for i in range(1, 12)]
    inv = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, inv.id, ids)
    recipients.start(ctx, inv.id)
    b = campaigns.create(ctx, "broadcast", "Vaccins", T0.date(), T0.date() + timedelta(days=5), templates=TPL)
    recipients.assign_ids(ctx, b.id, ids)
    recipients.start(ctx, b.id)
    assert truth()[1] > 0 and kept() == truth()
    dispatcher.run_once()
    assert Delivery.select().where(Delivery.status == "sent").count() and kept() == truth()
    data = status.overview(ctx)
    assert (data["patients"], data["deliveries"]["outbox"]) == truth()

    # retention deletes the finished rows past their days; a deleted campaign takes its own
    retention.prune(clock() + timedelta(days=1000), 90)
    assert kept() == truth()
    Campaign.delete().where(Campaign.id == b.id).execute()
    assert kept() == truth()
    # statements the application never makes: the database still keeps the counts
    Delivery.delete().where(Delivery.campaign == inv.id).execute()
    Campaign.delete().where(Campaign.id == inv.id).execute()
    database.execute_sql("DELETE FROM patient WHERE emr_id IN ('10', '11')")
    assert kept() == truth() == (9, 0)
    before = kept()
    tally.fold()
    assert kept() == before
    if is_postgres():  # one row a table after a fold
        names = [r.name for r in RowCount.select()]
        assert sorted(names) == ["patient"], names
        database.execute_sql("TRUNCATE patient CASCADE")
        assert kept() == truth() == (0, 0)


def test_an_older_database_is_counted_when_migrated(db_url):
    """Migrations 0011 and 0012 count the rows already there, then keep counting."""
    from core import db as dbmod

    dbmod.bind(db_url)
    dbmod._runner().up(target="0010_room_for_updates")
    add_patients(3)
    assert dbmod.migrate() == (10, migrations.LATEST)
    assert kept() == truth() == (3, 0)
    add_patients(2, start=2000)
    assert kept() == truth() == (5, 0)


def test_an_outbox_is_counted_when_migrated_to_12(db_url):
    """0012 (SQLite) counts the outbox rows written at version 11, then keeps counting."""
    from core import db as dbmod
    from core.models import utcnow

    dbmod.bind(db_url)
    dbmod._runner().up(target="0011_row_counts")
    add_patients(2)
    c = Campaign.create(kind="invitation", name="Eleven", created_by="admin")
    for _ in range(3):
        Delivery.create(kind="put", campaign=c, due_at=utcnow(), created_at=utcnow(), content_version=1)
    assert dbmod.migrate() == (11, migrations.LATEST)
    assert kept() == truth() == (2, 3)
    Delivery.create(kind="put", campaign=c, due_at=utcnow(), created_at=utcnow(), content_version=1)
    Delivery.delete().where(Delivery.id.in_(Delivery.select(Delivery.id).limit(2))).execute()
    assert kept() == truth() == (2, 2)
