"""Each campaign's recipient counts kept by the database (issue #21, migration 0006):
whatever changes a recipient — assign, start, a send, a removal, a stop, a deleted
campaign, a statement that changes many at once — `core.tally` reads exactly what
counting the recipient rows gives; the fold changes no count. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import peewee as pw
import pytest
from helpers import add_patients, ctx_at
from servers import delivery_config

from core import campaigns, recipients, status, tally
from core.delivery import Dispatcher
from core.models import Campaign, Recipient, RecipientTally

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday
TPL = {"fr": {"title": "Vaccins", "body": "Vaccins.", "push": "Un message"}}


def counted() -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    q = Recipient.select(Recipient.campaign, Recipient.status, pw.fn.COUNT(Recipient.id)).group_by(
        Recipient.campaign, Recipient.status
    )
    for cid, st, n in q.tuples():
        out.setdefault(cid, {})[st] = n
    return out


@pytest.fixture
def env(db, db_url, tmp_path, smtp, gw):
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    ctx, clock = ctx_at(config, T0)
    d = Dispatcher(config, clock=clock)
    yield ctx, d
    d.close()


def test_every_change_is_counted(env):
    ctx, dispatcher = env
    add_patients(6, app_id=lambda i: f"a-{i}" if i % 2 else None)
    ids = [str(i) for i in range(1000, 1006)]
    inv = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, inv.id, ids)  # those on the app are skipped
    assert tally.counts() == counted()
    recipients.start(ctx, inv.id)
    assert tally.counts() == counted()
    dispatcher.run_once()
    assert tally.counts([inv.id]) == {inv.id: counted()[inv.id]} and counted()[inv.id].get("sent")
    b = campaigns.create(ctx, "broadcast", "Vaccins", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, ids)
    recipients.start(ctx, b.id)
    recipients.remove(ctx, b.id, "1001")
    recipients.stop(ctx, b.id)
    assert tally.counts() == counted()
    # a statement the application never makes: the database still keeps the counts
    Recipient.update(status="failed").where(Recipient.campaign == b.id).execute()
    Recipient.delete().where(Recipient.campaign == inv.id, Recipient.status == "skipped").execute()
    assert tally.counts() == counted()
    # what the list and status show
    assert campaigns.summary(ctx, b.id).counts == counted()[b.id]
    assert status.overview(ctx)["recipients"]["failed"] == sum(c.get("failed", 0) for c in counted().values())
    Campaign.delete().where(Campaign.id == inv.id).execute()  # recipients go with it
    assert tally.counts() == counted()
    before = tally.counts()
    tally.fold()
    assert tally.counts() == before
    # one row a (campaign, status) after a fold, none for a deleted campaign
    pairs = [(r.campaign, r.status) for r in RecipientTally.select()]
    assert len(pairs) == len(set(pairs)) and inv.id not in {c for c, _ in pairs}


def test_an_older_database_is_counted_when_migrated(db_url):
    """Migration 0006 counts the recipients already there, then keeps counting."""
    from test_migrations import _build_v1

    from core import db as dbmod

    dbmod.bind(db_url)
    _build_v1()
    dbmod.migrate()
    assert tally.counts() == counted() == {1: {"skipped": 1}}
    Recipient.update(status="assigned").execute()
    assert tally.counts() == counted() == {1: {"assigned": 1}}
