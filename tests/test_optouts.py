"""The opt-out ledger (SPEC §10): staff records, admin clears, imports never undo, and an
opt-out cancels what still waits — on SQLite and PostgreSQL."""

import json
from datetime import timedelta

import pytest
from helpers import add_patients, ctx_at, status_counts
from test_campaigns import TPL

from core import campaigns, formats, recipients
from core.config.types import User
from core.context import Ctx
from core.errors import BadInput, PermissionDenied
from core.models import AuditLog, Delivery, OptOut, Patient, Recipient
from core.optouts import history, ledger
from core.patients import lookup, upsert


def staff_ctx(config, clock):
    return Ctx(config, User("mlaval", "Marie Laval", frozenset({"campaigns"})), clock)


def test_staff_opt_out_cancels_a_queued_email_and_skips_the_recipient(db, config):
    ctx, clock = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    recipients.start(ctx, c.id)
    staff = staff_ctx(config, clock)
    done = ledger.record(staff, "1000", "email", "asked by phone")
    assert done.new and done.cancelled == 1 and done.channel == "email"
    by_emr = {r.emr_id: r for r in recipients.page(ctx, c.id, limit=None)}
    assert by_emr["1000"].status == "skipped"
    assert by_emr["1000"].reason("en") == f"opted out of email on {done.day} (recorded by staff)"  # --json: ISO
    assert by_emr["1000"].reason() == f"opted out of email on {formats.day(done.day)} (recorded by staff)"
    assert by_emr["1001"].status == "queued"
    assert [d.status for d in Delivery.select().order_by(Delivery.id)] == ["cancelled", "pending"]
    row = AuditLog.get(AuditLog.action == "opt_out")
    assert row.user == "mlaval" and json.loads(row.detail)["note"] == "asked by phone"
    # a second record of the same channel keeps the first date and writes no second row
    assert not ledger.record(staff, "1000", "email", "again").new
    assert OptOut.select().count() == 1


def test_opt_out_needs_a_note_and_a_known_channel_and_changes_nothing_otherwise(db, config):
    ctx, _ = ctx_at(config)
    add_patients(1)
    with pytest.raises(BadInput, match="needs a note"):
        ledger.record(ctx, "1000", "email", "  ")
    with pytest.raises(BadInput, match="unknown channel “sms”; expected one of email, feed, push, all"):
        ledger.record(ctx, "1000", "sms", "x")
    with pytest.raises(BadInput, match="no patient with EMR id “42”"):
        ledger.record(ctx, "42", "email", "x")
    assert OptOut.select().count() == 0 and AuditLog.select().count() == 0


def test_only_an_admin_clears_and_with_a_note(db, config):
    ctx, clock = ctx_at(config)
    add_patients(1)
    staff = staff_ctx(config, clock)
    ledger.record(staff, "1000", "all", "at the desk")
    with pytest.raises(PermissionDenied):
        ledger.clear(staff, "1000", "all", "changed her mind")
    with pytest.raises(BadInput, match="needs a note"):
        ledger.clear(ctx, "1000", "all", "")
    with pytest.raises(BadInput, match="opted out of every channel .* use --channel all"):
        ledger.clear(ctx, "1000", "email", "x")
    assert ledger.clear(ctx, "1000", "all", "signed the consent form").cleared == 1
    p = lookup.get_by_emr("1000")
    [row] = history.for_patient(p)
    assert not row.active and row.cleared_note == "signed the consent form"
    with pytest.raises(BadInput, match="has no opt-out of email to undo"):
        ledger.clear(ctx, "1000", "email", "x")
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == ["opt_out", "opt_in"]


def test_a_start_skips_an_opted_out_patient_until_an_admin_opts_them_in(db, config):
    ctx, clock = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    ledger.record(ctx, "1000", "email", "by phone")
    r = recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    assert r.skipped_reasons == {"opted_out_email": 1}
    ledger.clear(ctx, "1000", "email", "asked to be invited after all")
    c2 = campaigns.create(ctx, "invitation", "Join again")
    assert recipients.assign_ids(ctx, c2.id, ["1000"]).added == 1


def test_feed_opt_out_cancels_publish_and_push_and_leaves_live_feeds(db, config):
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(2, app_id=lambda i: f"a-{i}")
    c = campaigns.create(ctx, "broadcast", "Holiday", starts_on=today, ends_on=today + timedelta(days=3), templates=TPL)
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])  # live: publishes queued
    # as if the publish of 1001 had gone out already
    r1001 = Recipient.select().join_from(Recipient, Patient).where(Patient.emr_id == "1001").get()
    Delivery.update(status="sent").where(Delivery.recipient == r1001, Delivery.kind == "publish").execute()
    Recipient.update(in_feed=True).where(Recipient.id == r1001.id).execute()
    ledger.record(ctx, "1000", "feed", "no app messages")
    ledger.record(ctx, "1001", "feed", "no app messages")
    assert status_counts(c.id) == {"skipped": 2}
    kinds = {(d.recipient_id, d.kind, d.status) for d in Delivery.select().where(Delivery.recipient.is_null(False))}
    assert (r1001.id, "unpublish", "pending") in kinds, "a feed opt-out takes a live broadcast out of their feed"
    assert not Recipient.get_by_id(r1001.id).in_feed


def test_import_never_undoes_an_opt_out_and_says_how_many_it_kept(db, config, tmp_path):
    ctx, _ = ctx_at(config)
    add_patients(3, marketing_consent=False)
    ledger.record(ctx, "1000", "all", "desk")
    ledger.record(ctx, "1001", "feed", "desk")
    csv = tmp_path / "export.csv"
    csv.write_text(
        "No dossier;Prénom;Nom;Consentement marketing;Ne pas contacter\n"
        "1000;A;B;oui;non\n1001;C;D;oui;non\n1002;E;F;oui;non\n",
        encoding="utf-8",
    )
    result = upsert.import_csv(ctx, csv)
    assert result.kept_opted_out == 2
    assert OptOut.select().where(OptOut.cleared_at.is_null(True)).count() == 2
    c = campaigns.create(ctx, "invitation", "Join")
    assert recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"]).skipped_reasons == {"opted_out_email": 1}
    assert json.loads(AuditLog.get(AuditLog.action == "import").detail)["kept_opted_out"] == 2
    assert history.for_patient(lookup.get_by_emr("1000"))[0].day == ctx.today()  # the clinic's day, by the clock


def test_an_opt_out_cancels_a_claimed_email_but_not_one_in_flight(db, config):
    from core.delivery import store

    ctx, clock = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    recipients.start(ctx, c.id)
    claimed = store.claim("other-host:1", clock(), 60, 10)
    assert len(claimed) == 2
    # 1001's email was handed to the SMTP server by that dispatcher; 1000's only claimed
    r1001 = Recipient.select().join_from(Recipient, Patient).where(Patient.emr_id == "1001").get()
    Delivery.update(handed_at=clock(), handed_token=Delivery.claim_token).where(Delivery.recipient == r1001).execute()
    assert ledger.record(ctx, "1000", "email", "by phone").cancelled == 1
    assert ledger.record(ctx, "1001", "email", "by phone").cancelled == 0, "in flight: it may arrive"
    by_emr = {r.emr_id: r for r in recipients.page(ctx, c.id, limit=None)}
    assert (by_emr["1000"].status, by_emr["1001"].status) == ("skipped", "queued")
    d1000 = Delivery.get(Delivery.recipient != r1001.id)
    assert (d1000.status, d1000.claim_token, d1000.error_code) == ("cancelled", None, "opted_out_email")


def test_an_opt_out_s_origin_reads_as_a_phrase():
    """The recipient detail, `patients show` and the opt-out dialog said « staff by mlaval »
    (and « link by gateway »): a list of two words. Each source says where it came from
    and, recorded by staff, who (core.optouts.history.OptOutRow.origin)."""
    from datetime import date, datetime

    def origin(source, by):
        at = datetime(2026, 3, 2, 15, 0)
        return history.OptOutRow("email", source, at, date(2026, 3, 2), by, "", True, None, "", "").origin()

    assert origin("staff", "mlaval") == "recorded by mlaval"
    assert origin("link", "gateway") == "unsubscribe link"
    assert origin("app", "gateway") == "in the app"
    assert origin("staff", "") == "recorded by staff"
