"""Outbox retention (issue #21): the daemon deletes finished delivery rows older than
`[database] keep_deliveries_days`, in small batches, and never one that an invitation,
a campaign's content on the gateway or a send under way still needs. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import write_config

from core import campaigns, status
from core import config as cfg
from core.context import for_current_user
from core.delivery import retention
from core.errors import ConfigError
from core.models import Campaign, Delivery, Invitation, Patient, Recipient
from core.scheduling.heartbeat import DAEMON, TUI
from core.scheduling.scheduler import Scheduler

NOW = datetime(2026, 6, 1, 12, 0)
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=10)


def _row(kind, status, when, *, sent_at=None, campaign, recipient=None) -> Delivery:
    return Delivery.create(
        kind=kind,
        campaign=campaign,
        recipient=recipient,
        status=status,
        due_at=when,
        created_at=when,
        handed_at=when if status in ("sent", "failed") else None,
        sent_at=sent_at if sent_at is not None else (when if status == "sent" else None),
    )


@pytest.fixture
def outbox(db):
    """Every kind of row retention must tell apart; {name: delivery id}."""
    b = Campaign.create(kind="broadcast", name="Old news", created_by="t", expired_at=OLD + timedelta(days=30))
    inv = Campaign.create(kind="invitation", name="Join", created_by="t")
    people = [
        Patient.create(emr_id=str(i), emr_key=str(i), email=f"p{i}@example.org", app_id=f"app-{i}") for i in range(6)
    ]
    rb = [Recipient.create(campaign=b, patient=p, status="sent") for p in people[:4]]
    ri = [Recipient.create(campaign=inv, patient=p, status="sent") for p in people[4:]]
    rows = {
        "old push": _row("push", "sent", OLD, campaign=b, recipient=rb[0]),
        "old publish": _row("publish", "sent", OLD, campaign=b, recipient=rb[0]),
        "old cancelled push": _row("push", "cancelled", OLD, campaign=b, recipient=rb[1]),
        "old unpublish": _row("unpublish", "failed", OLD, campaign=b, recipient=rb[2]),
        "recent push": _row("push", "sent", RECENT, campaign=b, recipient=rb[3]),
        "old row sent lately": _row("push", "sent", OLD, sent_at=RECENT, campaign=b, recipient=rb[1]),
        "old pending": _row("push", "pending", OLD, campaign=b, recipient=rb[2]),
        "old retrying": _row("push", "retrying", OLD, campaign=b, recipient=rb[3]),
        "old sending": _row("push", "sending", OLD, campaign=b, recipient=rb[3]),
        "old put": _row("put", "sent", OLD, campaign=b),
        "old expire": _row("expire", "sent", OLD, campaign=b),
        "old invitation email": _row("email", "sent", OLD, campaign=inv, recipient=ri[0]),
        "old cancelled email": _row("email", "cancelled", OLD, campaign=inv, recipient=ri[1]),
    }
    Invitation.create(
        recipient=ri[0],
        patient=people[4],
        campaign=inv,
        delivery=rows["old invitation email"],
        code="ABC123",
        token="t" * 40,
        url="https://app.example.org/join/ABC123",
        created_at=OLD,
        expires_at=OLD + timedelta(days=14),
    )
    return {k: v.id for k, v in rows.items()}


GONE = {
    "old push",
    "old publish",
    "old cancelled push",
    "old unpublish",
    "old invitation email",
    "old cancelled email",
}


def test_prune_deletes_only_what_nothing_needs(outbox):
    assert retention.prune(NOW, 90) == len(GONE)
    left = {d.id for d in Delivery.select()}
    assert left == {i for k, i in outbox.items() if k not in GONE}
    assert Recipient.select().where(Recipient.status == "sent").count() == 6  # statuses untouched
    assert retention.prune(NOW, 90) == 0


def test_an_invitation_outlives_its_email_row(outbox, config):
    """The invitation email goes (schema 8); the invitation keeps the patient's code and
    link, and when its email went out: the campaign's funnel reads the same before and after."""
    ctx = for_current_user(config, clock=lambda: NOW)
    inv = Campaign.get(Campaign.kind == "invitation")
    before = campaigns.funnel(ctx, inv.id)
    retention.prune(NOW, 90)
    left = Invitation.get(Invitation.code == "ABC123")
    assert (left.delivery_id, left.sent_at, left.url) == (None, OLD, "https://app.example.org/join/ABC123")
    after = campaigns.funnel(ctx, inv.id)
    assert after == before == {"invited": 1, "joined": 0, "expired": 1, "reinvited": 0}


def test_prune_goes_a_small_batch_at_a_time(outbox):
    assert retention.prune(NOW, 90, batch=2, max_batches=1) == 2
    assert retention.prune(NOW, 90, batch=2, max_batches=1) == 2
    assert retention.prune(NOW, 90, batch=2, max_batches=5) == 2
    assert retention.prune(NOW, 90, batch=2, max_batches=5) == 0


def test_keep_days_is_the_config_s(outbox):
    assert retention.prune(NOW, 101) == 0
    assert retention.prune(NOW, 99) == len(GONE)


def test_the_daemon_prunes_and_a_tui_does_not(outbox, config):
    tui = Scheduler(config, role=TUI, clock=lambda: NOW)
    tui.run_due()
    assert Delivery.select().count() == len(outbox)
    daemon = Scheduler(config, role=DAEMON, clock=lambda: NOW)
    daemon.run_due()
    assert Delivery.select().count() == len(outbox) - len(GONE)


def test_status_shows_the_outbox(outbox, config):
    ctx = for_current_user(config, clock=lambda: NOW)
    data = status.overview(ctx)
    assert (data["deliveries"]["outbox"], data["deliveries"]["keep_days"]) == (len(outbox), 90)
    assert f"outbox       {len(outbox)} rows (finished ones kept 90 days)" in status.format_overview(
        data, ZoneInfo("America/Toronto")
    )


def test_keep_deliveries_days_in_the_config(tmp_path, sqlite_url):
    p = write_config(tmp_path, sqlite_url)
    assert cfg.load(p, env={}).database.keep_deliveries_days == 90
    text = p.read_text(encoding="utf-8").replace("[database]\n", "[database]\nkeep_deliveries_days = 30\n")
    p.write_text(text, encoding="utf-8")
    assert cfg.load(p, env={}).database.keep_deliveries_days == 30
    p.write_text(text.replace("= 30", "= 0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"database\.keep_deliveries_days: expected a whole number from 1 to 36500"):
        cfg.load(p, env={})
