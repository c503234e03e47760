"""The consent rules' edges (core/rules.py), each a way a patient could be reached wrongly."""

from __future__ import annotations

from datetime import timedelta

from helpers import add_patients, ctx_at
from test_campaigns import TPL

from core import campaigns, recipients


def test_an_empty_app_id_is_no_app_account(db, config):
    """An app id stored as '' (an export's empty cell) is no account: a broadcast skips the
    patient, and an invitation still invites them (they are not "already on the app")."""
    ctx, _ = ctx_at(config)
    add_patients(1, app_id="")
    add_patients(1, start=2000, app_id=None)
    add_patients(1, start=3000, app_id="a-3000")
    today = ctx.today()
    b = campaigns.create(ctx, "broadcast", "B", starts_on=today, ends_on=today + timedelta(days=3), templates=TPL)
    res = recipients.assign_ids(ctx, b.id, ["1000", "2000", "3000"])
    assert (res.added, res.skipped_reasons) == (1, {"no_app_account": 2})
    inv = campaigns.create(ctx, "invitation", "I")
    res = recipients.assign_ids(ctx, inv.id, ["1000", "2000", "3000"])
    assert (res.added, res.skipped_reasons) == (2, {"already_on_app": 1})


def test_the_detail_stored_is_the_forbidding_rules_own_or_nothing(db, config):
    """detail_case: an allowed patient carries no reason detail, nor one skipped by a rule
    that has none (no app account); only a rule with a detail (an opt-out) writes one."""
    from core.models import Recipient
    from core.optouts import ledger

    ctx, _ = ctx_at(config)
    add_patients(1, app_id="a-1000")
    add_patients(1, start=2000, app_id=None)
    add_patients(1, start=3000, app_id="a-3000")
    add_patients(1, start=4000, app_id="a-4000")
    ledger.record(ctx, "3000", "all", "par téléphone")
    ledger.record(ctx, "4000", "push", "pas de notifications")  # in the feed still; the push is the send's
    today = ctx.today()
    b = campaigns.create(ctx, "broadcast", "B", starts_on=today, ends_on=today + timedelta(days=3), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "2000", "3000", "4000"])
    got = {r.patient.emr_id: (r.status, r.reason_code or "", r.reason or "") for r in Recipient.select()}
    assert got["1000"] == ("assigned", "", "")
    assert got["4000"] == ("assigned", "", "")  # a send-stage rule's detail is not the feed's
    assert got["2000"] == ("skipped", "no_app_account", "")
    assert got["3000"][:2] == ("skipped", "opted_out_feed") and got["3000"][2].endswith("|staff"), got
