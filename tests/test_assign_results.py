"""What an assign tells staff and writes down (SPEC §4, §6; issue #22's mutation run):
one patient, by conditions, a list — the result, its preview, each refusal's reason, and
the audit row that says how the patients were chosen."""

from __future__ import annotations

import pytest
from helpers import add_patients, ctx_at, status_counts

from core import campaigns, conditions, recipients
from core.audit import read as audit_read
from core.errors import BadInput, NotFound
from core.models import AuditLog, Recipient


def last_assign(ctx) -> tuple[int | None, dict]:
    row = audit_read.read(ctx, newest_first=True, limit=1)[0]
    assert row.action == "assign"
    return row.campaign_id, row.detail


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
        {"how": "patient", "emr_id": "1001", "added": 1, "skipped": 0, "already_assigned": 0},
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
    assert str(e.value) == "no patient with EMR id '9999'"
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
            "skipped": 1,
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
    assert (after.matched, after.added, after.already_assigned) == (5, 0, 5)


def test_a_list_counts_each_id_once_and_reports_the_unknown(db, config):
    ctx, _ = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Join")
    r = recipients.assign_ids(ctx, c.id, ["1000", " 1000 ", "1001", "77", ""])
    assert (r.added, r.not_found) == (2, ["77"])
    assert last_assign(ctx) == (
        c.id,
        {"how": "list", "count": 3, "added": 2, "skipped": 0, "already_assigned": 0},
    )
    with pytest.raises(BadInput) as e:
        recipients.assign_ids(ctx, c.id, ["", "  "])
    assert str(e.value) == "no EMR ids to assign"
