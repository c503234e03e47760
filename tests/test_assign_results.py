"""What an assign tells staff and writes down (SPEC §4, §6; issue #22's mutation run):
one patient, by conditions, a list — the result, its preview, each refusal's reason, and
the audit row that says how the patients were chosen."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from helpers import add_patients, ctx_at, status_counts
from test_campaigns import TPL

from core import campaigns, conditions, recipients
from core.audit import read as audit_read
from core.context import Ctx
from core.enums import Permission
from core.errors import BadInput, NotFound, PermissionDenied, Refused
from core.models import AuditLog, Campaign, Patient, Recipient


def last_assign(ctx) -> tuple[int | None, dict]:
    row = audit_read.read(ctx, newest_first=True, limit=1)[0]
    assert row.action == "assign"
    return row.campaign_id, row.detail


def emr_of(r: Recipient) -> str:
    return Patient.get_by_id(r.patient_id).emr_id


def assigned(cid) -> list[str]:
    return sorted(r.patient.emr_id for r in Recipient.select().where(Recipient.campaign == cid))


def test_one_patient_by_emr_id(db, config):
    ctx, _ = ctx_at(config)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Join")
    r = recipients.assign_patient(ctx, c.id, " 1001 ")  # as typed, spaces and all
    assert (r.added, r.skipped, r.already_assigned) == (1, 0, 0)
    assert assigned(c.id) == ["1001"]
    assert last_assign(ctx) == (
        c.id,
        {"how": "patient", "emr_id": "1001", "added": 1, "skipped": {}, "already_assigned": 0},
    )
    again = recipients.assign_patient(ctx, c.id, "1001")
    assert (again.added, again.already_assigned) == (0, 1)


def test_an_unknown_emr_id_is_named(db, config):
    ctx, _ = ctx_at(config)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Join")
    before = AuditLog.select().count()
    with pytest.raises(NotFound) as e:
        recipients.assign_patient(ctx, c.id, " 9999 ")
    assert str(e.value) == "no patient with EMR id “9999”"
    assert Recipient.select().count() == 0 and AuditLog.select().count() == before


def test_by_conditions_counts_and_writes_down_the_conditions(db, config):
    ctx, _ = ctx_at(config)
    add_patients(3, 1000, language="fr")
    add_patients(2, 2000, language="en")
    add_patients(1, 3000, language="fr", do_not_contact=True)
    c = campaigns.create(ctx, "invitation", "Join")
    conds = [conditions.parse("language = fr"), conditions.parse("age is empty")]
    r = recipients.assign_conditions(ctx, c.id, conds)
    assert r.to_json() == {
        "added": 3,
        "already_assigned": 0,
        "skipped": 1,
        "skipped_reasons": {"do_not_contact": 1},
        "not_found": [],
    }
    assert status_counts(c.id) == {"assigned": 3, "skipped": 1}
    assert assigned(c.id) == ["1000", "1001", "1002", "3000"]
    assert last_assign(ctx) == (
        c.id,
        {
            "how": "conditions",
            "conditions": ["language = fr", "age is empty"],
            "added": 3,
            "skipped": {"do_not_contact": 1},  # why, as a start's row says it
            "already_assigned": 0,
        },
    )


def test_by_conditions_needs_one(db, config):
    ctx, _ = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    with pytest.raises(BadInput) as e:
        recipients.assign_conditions(ctx, c.id, [])
    assert str(e.value) == "give at least one condition (FIELD OP VALUE)"
    assert Recipient.select().count() == 0


def test_the_preview_is_what_the_assign_then_does(db, config):
    ctx, _ = ctx_at(config)
    add_patients(4, 1000, language="fr")
    add_patients(1, 2000, language="fr", email="")  # an invitation is emailed: skipped
    add_patients(3, 3000, language="en")
    c = campaigns.create(ctx, "invitation", "Join")
    other = campaigns.create(ctx, "invitation", "Other")
    recipients.assign_ids(ctx, other.id, ["1000", "1001"])  # on another campaign: no matter here
    recipients.assign_ids(ctx, c.id, ["1003"])
    conds = [conditions.parse("language = fr")]
    before = (Recipient.select().count(), AuditLog.select().count())

    p = recipients.preview_conditions(ctx, c.id, conds)
    assert (p.matched, p.added, p.already_assigned, p.skipped_reasons) == (5, 3, 1, {"no_email": 1})
    assert (Recipient.select().count(), AuditLog.select().count()) == before  # a preview writes nothing

    r = recipients.assign_conditions(ctx, c.id, conds)
    assert (r.added, r.already_assigned, r.skipped_reasons) == (p.added, p.already_assigned, p.skipped_reasons)
    after = recipients.preview_conditions(ctx, c.id, conds)
    # the one skipped stays skipped, for its reason: not "already there" (a re-assign's report)
    assert (after.matched, after.added, after.already_assigned, after.skipped_reasons) == (5, 0, 4, {"no_email": 1})


def test_a_list_counts_each_id_once_and_reports_the_unknown(db, config):
    ctx, _ = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    r = recipients.assign_ids(ctx, c.id, ["1000", " 1000 ", "1001", "77", ""])
    assert (r.added, r.not_found) == (2, ["77"])
    assert last_assign(ctx) == (
        c.id,
        {"how": "list", "count": 3, "added": 2, "skipped": {}, "already_assigned": 0},
    )
    with pytest.raises(BadInput) as e:
        recipients.assign_ids(ctx, c.id, ["", "  "])
    assert str(e.value) == "no EMR ids to assign"


def test_a_broadcast_counts_by_the_feeds_rules_only(db, config):
    """Push turned off still sees the broadcast in the feed: added, not skipped (the
    push itself is checked at send); no marketing consent is skipped, and said so."""
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(1, 1000, app_id="a-1000", push_enabled=False)
    add_patients(1, 1001, app_id="a-1001", marketing_consent=False)
    b = campaigns.create(ctx, "broadcast", "Vaccins", today, today + timedelta(days=7), templates=TPL)
    conds = [conditions.parse("email is not empty")]
    p = recipients.preview_conditions(ctx, b.id, conds)
    assert (p.matched, p.added, p.skipped_reasons) == (2, 1, {"no_marketing_consent": 1})
    r = recipients.assign_conditions(ctx, b.id, conds)
    assert (r.added, r.skipped_reasons) == (1, {"no_marketing_consent": 1})
    assert status_counts(b.id) == {"assigned": 1, "skipped": 1}


def test_a_patient_a_rule_skips_is_said_added_as_skipped_as_the_list_then_shows(db, config):
    """Found at the desk: adding Anna Tremblay (no app account) by name said « non ajouté :
    pas de compte… » and « 1 exclu », yet she then showed in the list as « écarté » and the
    total went up. A skipped patient is a recipient (SPEC §4): the words say she was added,
    as skipped, and why; added again, that she was already there and still is."""
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(1, 1000, app_id="a-1000")
    add_patients(1, 1001, first_name="Anna")  # no app account
    b = campaigns.create(ctx, "broadcast", "Vaccins", today, today + timedelta(days=7), templates=TPL)
    r = recipients.assign_patient(ctx, b.id, "1001")
    assert status_counts(b.id) == {"skipped": 1}  # she is on the campaign
    assert r.words_for("Anna Tremblay", "1001") == "Anna Tremblay (1001) added as skipped: no app account."
    assert (r.words(), r.written) == ("1 added as skipped (no app account)", 1)
    again = recipients.assign_patient(ctx, b.id, "1001")
    assert again.words_for("Anna Tremblay", "1001") == (
        "Anna Tremblay (1001) was already a recipient, still skipped: no app account."
    )
    assert (again.words(), again.written) == ("0 added; 1 already there and still skipped (no app account)", 0)
    both = recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    assert both.words() == "1 added; 1 already there and still skipped (no app account); shown in 1 feed now"
    assert both.to_json() == {  # --json's counts as they were
        "added": 1,
        "already_assigned": 0,
        "skipped": 1,
        "skipped_reasons": {"no_app_account": 1},
        "not_found": [],
    }


def test_the_preview_counts_ages_on_the_clinics_today(db, config):
    ctx, _ = ctx_at(config, datetime(2026, 3, 4, 15, 0))
    add_patients(1, 1000, date_of_birth=date(2008, 3, 4))  # 18 today
    add_patients(1, 1001, date_of_birth=date(2008, 3, 5))  # 18 tomorrow
    c = campaigns.create(ctx, "invitation", "Join")
    p = recipients.preview_conditions(ctx, c.id, [conditions.parse("age >= 18")])
    assert (p.matched, p.added) == (1, 1)
    assert recipients.assign_conditions(ctx, c.id, [conditions.parse("age >= 18")]).added == 1
    assert assigned(c.id) == ["1000"]


def test_removed_or_skipped_before_anything_was_sent_come_back_and_are_counted(db, config):
    """Assigned again afresh (the rules checked now): one new, one removed, one skipped
    whose consent changed, in one assign: three added; a removed one still forbidden and
    a new one forbidden by the same rule, and one skipped before and still forbidden:
    three skipped for that reason."""
    ctx, _ = ctx_at(config)
    add_patients(7)
    c = campaigns.create(ctx, "invitation", "Join")
    Patient.update(do_not_contact=True).where(Patient.emr_id.in_(["1002", "1004"])).execute()
    recipients.assign_ids(ctx, c.id, ["1001", "1002", "1003", "1004", "1006"])
    recipients.remove(ctx, c.id, "1006")  # not in the next assign: stays removed
    recipients.remove(ctx, c.id, "1001")
    recipients.remove(ctx, c.id, "1003")
    Patient.update(do_not_contact=False).where(Patient.emr_id == "1002").execute()
    Patient.update(do_not_contact=True).where(Patient.emr_id.in_(["1003", "1005"])).execute()
    assert status_counts(c.id) == {"removed": 3, "skipped": 2}

    p = recipients.preview_conditions(ctx, c.id, [conditions.parse("email is not empty")])
    r = recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002", "1003", "1004", "1005"])
    # 1000 new, 1001 removed, 1002 skipped then allowed: added; 1003 removed and 1005 new,
    # both do-not-contact now: skipped; 1004 skipped and still forbidden: left as it was,
    # and counted skipped for its reason (it was counted "already assigned")
    assert (r.added, r.skipped, r.already_assigned, r.skipped_reasons) == (3, 3, 0, {"do_not_contact": 3})
    # the preview (everyone with an email) also brings back 1006, which the list leaves out
    assert (p.added, p.already_assigned, p.skipped_reasons) == (4, 0, {"do_not_contact": 3})
    got = {emr_of(x): (x.status, x.reason_code) for x in Recipient.select().where(Recipient.campaign == c.id)}
    assert got == {
        "1000": ("assigned", ""),
        "1001": ("assigned", ""),
        "1002": ("assigned", ""),
        "1003": ("skipped", "do_not_contact"),
        "1004": ("skipped", "do_not_contact"),
        "1005": ("skipped", "do_not_contact"),
        "1006": ("removed", ""),
    }


def test_a_row_brought_back_is_written_whole_as_new(db, config):
    """A removed row assigned again reads as if new: who added it and when, no removal, no
    queueing from before, the rule's reason as it stands now — what the ledger and the
    recipient's detail show (issue #22's mutation run: the revive's columns were not read)."""
    t0 = datetime(2026, 5, 4, 14, 0)
    ctx, clock = ctx_at(config, t0)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
    recipients.start(ctx, c.id)  # queued_at set, nothing sent yet
    clock.advance(hours=1)
    for emr in ("1000", "1001", "1002"):
        recipients.remove(ctx, c.id, emr)
    from core.optouts import ledger

    ledger.record(ctx, "1002", "email", "au téléphone")  # forbidden now, with its day and source
    clock.advance(days=1)
    bob = Ctx(config, replace(ctx.user, login="bob"), clock)
    r = recipients.assign_ids(bob, c.id, ["1000", "1002"])
    assert (r.added, r.skipped) == (1, 1)
    rows = {emr_of(x): x for x in Recipient.select().where(Recipient.campaign == c.id)}
    for emr in ("1000", "1002"):
        row = rows[emr]
        assert (row.added_at, row.added_by, row.removed_at, row.queued_at, row.sent_at) == (
            clock.at,
            "bob",
            None,
            None,
            None,
        ), emr
    assert (rows["1000"].status, rows["1000"].reason_code, rows["1000"].reason) == ("assigned", "", "")
    assert (rows["1002"].status, rows["1002"].reason_code) == ("skipped", "opted_out_email")
    assert rows["1002"].reason == "2026-05-04|staff"  # the opt-out's day in Toronto, and who took it
    left = rows["1001"]  # not in the list: stays as it was
    assert (left.status, left.removed_at, left.added_by) == ("removed", t0 + timedelta(hours=1), ctx.user.login)


def test_a_reassign_counts_each_patient_left_skipped_under_its_true_reason(db, config):
    """Assigning a list again: those who stay skipped — opted out, without consent, not on
    the app — and one removed after being sent to are counted skipped under each one's
    reason, never "already assigned" (only a recipient still waiting or sent to is); the
    preview says the same, and the rows stay as they were (an assign twice is a no-op)."""
    from core.optouts import ledger

    ctx, clock = ctx_at(config)
    add_patients(3, app_id=lambda i: f"a-{i}")  # 1000 stays, 1001 opts out, 1002 is sent to then removed
    add_patients(1, 2000, app_id=lambda i: f"a-{i}", marketing_consent=False)
    add_patients(1, 3000)  # no app account
    soon = clock.at.date() + timedelta(days=10)
    c = campaigns.create(ctx, "broadcast", "Closed", soon, soon + timedelta(days=7), templates=TPL)
    everyone = ["1000", "1001", "1002", "2000", "3000"]
    first = recipients.assign_ids(ctx, c.id, everyone)
    assert first.skipped_reasons == {"no_marketing_consent": 1, "no_app_account": 1}
    ledger.record(ctx, "1001", "feed", "au téléphone")
    Recipient.update(status="skipped", reason_code="opted_out_feed").where(
        Recipient.patient == Patient.get(Patient.emr_id == "1001").id
    ).execute()  # as the opt-out's send-time check leaves them
    Recipient.update(status="sent", sent_at=clock.at).where(
        Recipient.patient == Patient.get(Patient.emr_id == "1002").id
    ).execute()
    recipients.remove(ctx, c.id, "1002")
    clock.advance(days=1)
    before = {emr_of(x): (x.status, x.reason_code, x.added_at) for x in Recipient.select()}
    cond = [conditions.parse("email is not empty")]  # the same five patients

    p = recipients.preview_conditions(ctx, c.id, cond)
    r = recipients.assign_ids(ctx, c.id, everyone)
    reasons = {"no_marketing_consent": 1, "no_app_account": 1, "opted_out_feed": 1, "removed": 1}
    assert (r.added, r.already_assigned, r.skipped, r.skipped_reasons) == (0, 1, 4, reasons)
    assert (p.matched, p.added, p.already_assigned, p.skipped_reasons) == (5, 0, 1, reasons)
    assert {emr_of(x): (x.status, x.reason_code, x.added_at) for x in Recipient.select()} == before
    _cid, detail = last_assign(ctx)
    assert (detail["added"], detail["already_assigned"], detail["skipped"]) == (0, 1, reasons)


def test_an_assign_brings_back_this_campaign_s_row_only(db, config):
    """A patient sent to on one campaign and removed from another: assigning them to either
    touches that campaign's row alone — the one sent to stays as it was ("already
    assigned"), the removed one comes back (issue #22's mutation run: neither was checked)."""
    ctx, _ = ctx_at(config)
    add_patients(1)
    sent = campaigns.create(ctx, "invitation", "Sent")
    removed = campaigns.create(ctx, "invitation", "Removed")
    recipients.assign_ids(ctx, sent.id, ["1000"])
    recipients.assign_ids(ctx, removed.id, ["1000"])
    recipients.remove(ctx, removed.id, "1000")
    # as a dispatcher records the invitation that went out
    Recipient.update(status="sent", sent_at=datetime(2026, 5, 1, 12, 0)).where(Recipient.campaign == sent.id).execute()
    before = Recipient.get(Recipient.campaign == sent.id)

    r = recipients.assign_ids(ctx, sent.id, ["1000"])
    assert (r.added, r.already_assigned) == (0, 1)
    r = recipients.assign_ids(ctx, removed.id, ["1000"])
    assert (r.added, r.already_assigned) == (1, 0)
    after = Recipient.get(Recipient.campaign == sent.id)
    assert (after.status, after.sent_at, after.added_at) == (before.status, before.sent_at, before.added_at)
    assert status_counts(removed.id) == {"assigned": 1}


def test_campaigns_is_the_permission_to_preview_and_assign(db, config):
    """A staff member with "campaigns" (not admin) previews and assigns; without it,
    refused, nothing written."""
    ctx, clock = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    conds = [conditions.parse("email is not empty")]
    staff = Ctx(config, replace(ctx.user, permissions=frozenset({Permission.CAMPAIGNS})), clock)
    assert recipients.preview_conditions(staff, c.id, conds).added == 2
    assert recipients.assign_patient(staff, c.id, "1000").added == 1
    assert recipients.assign_conditions(staff, c.id, conds).added == 1
    nobody = Ctx(config, replace(ctx.user, permissions=frozenset()), clock)
    before = AuditLog.select().count()
    for attempt in (
        lambda: recipients.preview_conditions(nobody, c.id, conds),
        lambda: recipients.assign_patient(nobody, c.id, "1001"),
        lambda: recipients.assign_conditions(nobody, c.id, conds),
        lambda: recipients.assign_ids(nobody, c.id, ["1001"]),
    ):
        with pytest.raises(PermissionDenied, match="lacks the 'campaigns' permission"):
            attempt()
    assert AuditLog.select().count() == before and Recipient.select().count() == 2


# --- refusals: the reason staff read, and nothing added ----------------------------------


def _broadcast(ctx, starts=date(2026, 3, 1), ends=date(2026, 3, 6)):
    add_patients(1, 1000, app_id="a-1000")
    return campaigns.create(ctx, "broadcast", "Vaccins", starts, ends, templates=TPL)


def test_an_archived_campaign_says_so(db, config):
    ctx, _ = ctx_at(config)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Join")
    campaigns.archive(ctx, c.id)
    with pytest.raises(Refused) as e:
        recipients.assign_patient(ctx, c.id, "1000")
    assert str(e.value) == f"campaign {c.id} is archived; unarchive it first"
    assert Recipient.select().count() == 0


def test_an_archived_campaign_is_refused_in_one_wording(db, config):
    """Assign, start and re-invite refuse an archived campaign in the same words
    (core.campaigns.actions.require_unarchived): start and re-invite said « campaign 1 is
    archived » and left out what to do; assign said it its own way."""
    ctx, _ = ctx_at(config)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_patient(ctx, c.id, "1000")
    campaigns.archive(ctx, c.id)
    said = set()
    for call in (recipients.start, recipients.reinvite_plan, recipients.reinvite):
        with pytest.raises(Refused) as e:
            call(ctx, c.id)
        said.add(str(e.value))
    assert said == {f"campaign {c.id} is archived; unarchive it first"}


def test_the_last_day_lasts_until_midnight_at_the_clinic(db, config):
    # 22:00 in Toronto on the last day is 03:00 UTC the next day: still open
    ctx, clock = ctx_at(config, datetime(2026, 3, 7, 3, 0))
    b = _broadcast(ctx)
    assert recipients.assign_patient(ctx, b.id, "1000").added == 1
    clock.at = datetime(2026, 3, 7, 5, 0)  # 00:00 on the 7th in Toronto
    add_patients(1, 1001, app_id="a-1001")
    with pytest.raises(Refused) as e:
        recipients.assign_patient(ctx, b.id, "1001")
    assert str(e.value) == f"campaign {b.id}'s window ended on Mar 6, 2026; nobody can be added"
    assert Recipient.select().count() == 1


def test_a_broadcast_removed_from_the_feeds_stays_closed_when_the_clock_goes_back(db, config):
    ctx, clock = ctx_at(config, datetime(2026, 3, 4, 15, 0))
    b = _broadcast(ctx)
    # expired at 21:30 on the 4th in Toronto (02:30 UTC on the 5th), then the clock is set back
    Campaign.update(expired_at=datetime(2026, 3, 5, 2, 30)).where(Campaign.id == b.id).execute()
    with pytest.raises(Refused) as e:
        recipients.assign_patient(ctx, b.id, "1000")
    assert str(e.value) == f"campaign {b.id} was removed from the feeds on Mar 4, 2026; nobody can be added"
    assert Recipient.select().count() == 0


def test_an_assign_leaves_no_table_behind(db, config):
    """The picked patients and a list's keys live in temporary tables: the database's
    own tables are the same after an assign (and another connection never sees them)."""
    from core.models import database

    ctx, _ = ctx_at(config)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Join")
    before = sorted(database.get_tables())
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    recipients.assign_conditions(ctx, c.id, [conditions.parse("email is not empty")])
    assert sorted(database.get_tables()) == before
    assert "clinicast_picked" not in before and "clinicast_keys" not in before


def test_a_list_of_more_known_patients_than_one_assign_adds_is_refused_whole(db, config):
    ctx, _ = ctx_at(config)
    add_patients(5001)
    c = campaigns.create(ctx, "invitation", "Join")
    with pytest.raises(Refused) as e:
        recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 6001)] + ["no-such-id"])
    assert str(e.value) == "this list has 5,001 known patients; one assign adds at most 5,000. Nothing was added."
    assert Recipient.select().count() == 0


def test_an_opt_out_cleared_by_an_administrator_no_longer_skips(db, config):
    """Consent at assign: an active opt-out of email skips an invitation, saying when and
    how; once an administrator cleared it, the patient is added again."""
    from core.optouts import ledger

    ctx, _ = ctx_at(config, datetime(2026, 3, 4, 15, 0))
    add_patients(2)
    ledger.record(ctx, "1000", "email", "asked at the desk")
    ledger.record(ctx, "1001", "email", "asked at the desk")
    ledger.clear(ctx, "1001", "email", "changed their mind")
    c = campaigns.create(ctx, "invitation", "Join")
    r = recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    assert (r.added, r.skipped_reasons) == (1, {"opted_out_email": 1})
    got = {emr_of(x): (x.status, x.reason_code, x.reason) for x in Recipient.select()}
    assert got == {
        "1000": ("skipped", "opted_out_email", "2026-03-04|staff"),
        "1001": ("assigned", "", ""),
    }


def test_a_live_broadcast_s_publish_rows_have_time_ordered_keys(db, config):
    """The publish rows an assign writes carry idempotency keys made by the database:
    UUIDs version 7 (RFC 9562), each its own, beginning with the statement's millisecond
    — side by side in the outbox's index of keys (issue #21), unlike random ones."""
    import time
    import uuid

    from core.models import Delivery

    ctx, _ = ctx_at(config)
    add_patients(40, app_id=lambda i: f"app-{i}")
    today = ctx.today()
    b = campaigns.create(ctx, "broadcast", "Vaccins", today, today + timedelta(days=3), templates=TPL)
    before = int(time.time() * 1000)
    r = recipients.assign_conditions(ctx, b.id, [conditions.parse("language = fr")])
    after = int(time.time() * 1000)
    keys = [
        k
        for (k,) in Delivery.select(Delivery.idempotency_key)
        .where(Delivery.campaign == b.id, Delivery.kind == "publish")
        .tuples()
    ]
    assert r.published == len(keys) == 40 == len(set(keys))
    for k in keys:
        u = uuid.UUID(k)
        assert str(u) == k and u.version == 7 and u.variant == uuid.RFC_4122, k
        assert before - 5 <= int(u.hex[:12], 16) <= after + 5, (k, before, after)


def test_a_recipient_in_the_feed_without_a_push_is_already_there_in_the_preview_and_the_words(db, config):
    """Push turned off: the start skipped her for the push alone, the message is in her
    feed. Picked again, the preview and the assign say she is already there (the TUI's
    words, one patient's and several's), and her row stays as the start left it."""
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(2, app_id=lambda i: f"a-{i}", push_enabled=lambda i: i == 1000)
    b = campaigns.create(ctx, "broadcast", "Vaccins", today, today + timedelta(days=7), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    recipients.start(ctx, b.id)
    before = {emr_of(x): (x.status, x.reason_code, x.in_feed, x.added_at) for x in Recipient.select()}
    assert before["1001"][:3] == ("skipped", "push_off", True)
    p = recipients.preview_conditions(ctx, b.id, [conditions.parse("push_enabled = no")])
    assert (p.matched, p.added, p.already_assigned, p.skipped_reasons) == (1, 0, 1, {})
    one = recipients.assign_patient(ctx, b.id, "1001")
    assert one.words_for("Anna Tremblay", "1001") == "Anna Tremblay (1001) was already a recipient."
    both = recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    assert (both.words(), both.written) == ("0 added; 2 already there", 0)
    assert {emr_of(x): (x.status, x.reason_code, x.in_feed, x.added_at) for x in Recipient.select()} == before
