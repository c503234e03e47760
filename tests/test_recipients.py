"""Recipients: assign three ways, the 5,000 cap, consent, publish/unpublish in the outbox, start."""

from datetime import datetime, timedelta

import pytest
from helpers import add_patients, ctx_at, status_counts
from test_campaigns import TPL

from core import campaigns, recipients
from core.errors import BadInput, NotFound, Refused
from core.models import AuditLog, Delivery, Recipient


def deliveries(kind=None):
    q = Delivery.select()
    if kind:
        q = q.where(Delivery.kind == kind)
    return q.count()


def statuses(cid):
    return status_counts(cid)


def test_invitation_consent_rules_at_assign(db, config):
    ctx, _ = ctx_at(config)
    add_patients(4)  # 1000-1003 eligible
    add_patients(1, 2000, do_not_contact=True)
    add_patients(1, 2001, app_id="a-2001")
    add_patients(1, 2002, email="")
    c = campaigns.create(ctx, "invitation", "Join")
    r = recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002", "1003", "2000", "2001", "2002", "9999"])
    assert r.to_json() == {
        "added": 4,
        "already_assigned": 0,
        "skipped": 3,
        "skipped_reasons": {"already_on_app": 1, "do_not_contact": 1, "no_email": 1},  # why (issue #18)
        "not_found": ["9999"],
    }
    assert r.skipped_reasons == {"do_not_contact": 1, "already_on_app": 1, "no_email": 1}
    assert deliveries() == 0, "assigning an invitation sends nothing"
    again = recipients.assign_ids(ctx, c.id, ["1000", "2000"])
    assert again.to_json() == {  # 2000 is still skipped, for its reason: not "already assigned"
        "added": 0,
        "already_assigned": 1,
        "skipped": 1,
        "skipped_reasons": {"do_not_contact": 1},
        "not_found": [],
    }
    assert statuses(c.id) == {"assigned": 4, "skipped": 3}


def test_assign_cap_is_refused_whole(db, config):
    ctx, _ = ctx_at(config)
    add_patients(5001)
    c = campaigns.create(ctx, "invitation", "Too many")
    from core import conditions

    with pytest.raises(Refused, match="5,001 patients; one assign adds at most 5,000"):
        recipients.assign_conditions(ctx, c.id, [conditions.parse("email is not empty")])
    assert Recipient.select().count() == 0
    r = recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 6000)])
    assert r.added == 5000
    # the one left is fine, the already assigned do not count against the cap
    assert recipients.assign_conditions(ctx, c.id, [conditions.parse("email is not empty")]).added == 1


def test_live_broadcast_publishes_in_the_same_transaction(db, config):
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(3, app_id=lambda i: f"a-{i}")
    add_patients(1, 2000, app_id="a-2000", marketing_consent=False)
    add_patients(1, 2001)  # not on the app
    b = campaigns.create(ctx, "broadcast", "Now", today, today + timedelta(days=1), templates=TPL)
    r = recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002", "2000", "2001"])
    assert (r.added, r.skipped) == (3, 2)
    assert r.skipped_reasons == {"no_marketing_consent": 1, "no_app_account": 1}
    assert deliveries("publish") == 3 and deliveries("put") == 1
    assert Recipient.select().where(Recipient.in_feed == True).count() == 3  # noqa: E712
    recipients.assign_ids(ctx, b.id, ["1000"])
    assert deliveries("publish") == 3, "re-assign is a no-op"


def test_upcoming_broadcast_publishes_when_window_opens(db, config):
    ctx, clock = ctx_at(config, datetime(2026, 12, 1, 12))
    add_patients(2, app_id=lambda i: f"a-{i}", push_enabled=lambda i: i == 1000)
    b = campaigns.create(ctx, "broadcast", "Later", "2026-12-03", "2026-12-04", templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    assert deliveries() == 0
    plan = recipients.start(ctx, b.id)
    assert plan.will_send == 1 and plan.queued_for == datetime(2026, 12, 3, 5)
    push = Delivery.get(Delivery.kind == "push")
    assert push.due_at == datetime(2026, 12, 3, 5), "a push never points to a message not yet visible"
    assert recipients.publish_due(ctx) == 0
    clock.at = datetime(2026, 12, 3, 5, 1)
    assert recipients.publish_due(ctx) == 2
    assert recipients.publish_due(ctx) == 0, "publishing is done once"
    assert deliveries("publish") == 2 and deliveries("put") == 1
    clock.at = datetime(2026, 12, 5, 5, 1)
    assert recipients.expire_due(ctx) == 1 and recipients.expire_due(ctx) == 0
    assert deliveries("expire") == 1


def test_ended_window_is_never_published_and_cannot_start(db, config):
    ctx, clock = ctx_at(config, datetime(2026, 12, 1, 12))
    add_patients(1, app_id="a-1")
    b = campaigns.create(ctx, "broadcast", "Past", "2026-12-02", "2026-12-03", templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000"])
    recipients.start(ctx, b.id)
    clock.at = datetime(2026, 12, 10)
    assert recipients.publish_due(ctx) == 0
    assert recipients.expire_due(ctx) == 0, "nothing was ever shown: nothing to expire"
    assert Delivery.get(Delivery.kind == "push").status == "cancelled"
    assert Recipient.get().status == "skipped" and Recipient.get().reason_code == "window_ended"
    with pytest.raises(Refused, match="window ended"):
        recipients.start(ctx, b.id)
    with pytest.raises(Refused, match="window ended"):
        recipients.assign_ids(ctx, b.id, ["1000"])


def test_start_sends_only_to_new_recipients(db, config):
    ctx, _ = ctx_at(config)
    add_patients(10)
    c = campaigns.create(ctx, "invitation", "Twice")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1005)])
    plan = recipients.start_plan(ctx, c.id)
    assert plan.will_send == 5 and Delivery.select().count() == 0, "the plan changes nothing"
    recipients.start(ctx, c.id)
    assert deliveries("email") == 5 and statuses(c.id) == {"queued": 5}
    with pytest.raises(Refused, match="nothing to start"):
        recipients.start(ctx, c.id)
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1010)])
    assert recipients.start(ctx, c.id).will_send == 5
    assert deliveries("email") == 10
    assert campaigns.summary(ctx, c.id).status == "sending"
    assert AuditLog.select().where(AuditLog.action == "start").count() == 2


def test_consent_rechecked_at_start(db, config):
    from core.models import Patient

    ctx, _ = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Changed")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    Patient.update(do_not_contact=True).where(Patient.emr_id == "1001").execute()
    plan = recipients.start(ctx, c.id)
    assert plan.will_send == 1 and plan.skipped == {"do_not_contact": 1}
    assert deliveries("email") == 1
    r = Recipient.select().join(Patient).where(Patient.emr_id == "1001").get()
    assert (r.status, r.reason_code) == ("skipped", "do_not_contact")


def test_broadcast_start_pushes_only_push_enabled(db, config):
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(4, app_id=lambda i: f"a-{i}", push_enabled=lambda i: i % 2 == 0)
    b = campaigns.create(ctx, "broadcast", "Push", today, today, templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002", "1003"])
    plan = recipients.start(ctx, b.id)
    assert plan.will_send == 2 and sum(plan.skipped.values()) == 2
    assert deliveries("push") == 2 and deliveries("publish") == 4
    assert Recipient.select().where(Recipient.in_feed == True).count() == 4  # noqa: E712


def test_remove_before_and_after_send(db, config):
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(3, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Rm", today, today + timedelta(days=1), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002"])
    recipients.start(ctx, b.id)
    foretold = recipients.removal_effect(ctx, b.id, "1000")
    said = recipients.remove(ctx, b.id, "1000").words()
    assert said == foretold
    assert "will not receive the push" in said and "removed from their Broadcasts feed" in said
    assert deliveries("unpublish") == 1
    r = Recipient.select().where(Recipient.status == "removed").get()
    assert {d.status for d in r.deliveries if d.kind in ("push", "publish")} == {"cancelled"}
    with pytest.raises(BadInput, match="already removed"):
        recipients.remove(ctx, b.id, "1000")
    with pytest.raises(NotFound):
        recipients.remove(ctx, b.id, "4242")
    # re-adding someone removed before anything was sent assigns them afresh
    again = recipients.assign_ids(ctx, b.id, ["1000"])
    assert again.added == 1 and statuses(b.id)["assigned"] == 1
    assert recipients.start(ctx, b.id).will_send == 1


def test_removed_after_sent_is_never_sent_again(db, config):
    ctx, _ = ctx_at(config)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Once")
    recipients.assign_ids(ctx, c.id, ["1000"])
    recipients.start(ctx, c.id)
    Recipient.update(status="sent", sent_at=ctx.now()).execute()
    Delivery.update(status="sent").execute()
    assert "already sent" in recipients.remove(ctx, c.id, "1000").words()
    again = recipients.assign_ids(ctx, c.id, ["1000"])  # left removed, and said so
    assert (again.already_assigned, again.skipped_reasons) == (0, {"removed": 1})
    with pytest.raises(Refused, match="nothing to start"):
        recipients.start(ctx, c.id)


def test_csv_list_report(db, config, tmp_path):
    ctx, _ = ctx_at(config)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "List")
    f = tmp_path / "ids.csv"
    f.write_bytes(
        "\ufeffNo dossier;Nom\r\n1000;Tremblay\r\n\r\n1001;Côté\r\n1000;Tremblay\r\n9999;X\r\n".encode("utf-8")
    )
    rep = recipients.read_id_list(ctx, f)
    assert rep.ids == ["1000", "1001", "9999"]
    assert rep.unknown == [(6, "9999")] and rep.duplicates == [(5, "1000", 2)]
    assert Recipient.select().count() == 0
    r = recipients.assign_csv(ctx, c.id, f)
    assert r.to_json() == {
        "added": 2,
        "already_assigned": 0,
        "skipped": 0,
        "skipped_reasons": {},
        "not_found": ["9999"],
    }


def test_csv_single_column_without_header_and_cp1252(db, config, tmp_path):
    ctx, _ = ctx_at(config)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Bare")
    f = tmp_path / "bare.csv"
    f.write_bytes(b"1000\n1001\n1002\n")
    assert recipients.read_id_list(ctx, f).ids == ["1000", "1001", "1002"]
    g = tmp_path / "win.csv"
    g.write_bytes("Numéro de dossier\tPrénom\n1002\tHélène\n".encode("cp1252"))
    assert recipients.assign_csv(ctx, c.id, g).added == 1


def test_csv_with_bad_lines_assigns_nothing(db, config, tmp_path):
    ctx, _ = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Bad")
    f = tmp_path / "bad.csv"
    f.write_text("emr_id,name\n1000,A\n,B\n1001,C,extra\n")
    rep = recipients.read_id_list(ctx, f)
    assert {ln for ln, _ in rep.bad_lines} == {3, 4}
    with pytest.raises(BadInput, match="bad lines, nothing assigned"):
        recipients.assign_csv(ctx, c.id, f)
    assert Recipient.select().count() == 0


def test_page_keyset_and_search(db, config):
    ctx, _ = ctx_at(config)
    add_patients(30)
    c = campaigns.create(ctx, "invitation", "Paged")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1030)])
    first = recipients.page(ctx, c.id, limit=10)
    second = recipients.page(ctx, c.id, after_id=first[-1].id, limit=10)
    assert len(first) == len(second) == 10 and first[-1].id < second[0].id
    assert [r.emr_id for r in recipients.page(ctx, c.id, search="1029")] == ["1029"]
    assert len(recipients.page(ctx, c.id, search="PRÉNOM102")) == 10
    with pytest.raises(BadInput, match="unknown status"):
        recipients.page(ctx, c.id, status="done")


def test_broadcast_needs_its_message_before_patients(db, config):
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(1, app_id="a-1")
    b = campaigns.create(ctx, "broadcast", "Empty", today, today)
    with pytest.raises(Refused, match="write campaign .* message before adding patients"):
        recipients.assign_ids(ctx, b.id, ["1000"])
    assert Recipient.select().count() == 0 and Delivery.select().count() == 0
    campaigns.save_templates(ctx, b.id, TPL)
    assert recipients.assign_ids(ctx, b.id, ["1000"]).added == 1


def test_concurrent_publishers_publish_each_recipient_once(db, config):
    """Several schedulers (threads, each with its own connection) opening the same window."""
    import threading

    ctx, clock = ctx_at(config, datetime(2026, 12, 1, 12))
    add_patients(300, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Race", "2026-12-03", "2026-12-04", templates=TPL)
    recipients.assign_ids(ctx, b.id, [str(i) for i in range(1000, 1300)])
    clock.at = datetime(2026, 12, 3, 5, 1)
    barrier, errors = threading.Barrier(4), []

    def publish():
        try:
            barrier.wait()
            recipients.publish_due(ctx)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            db.close()

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert deliveries("publish") == 300 and deliveries("put") == 1


@pytest.mark.parametrize("lookup", ["start", "reinvite"])
def test_what_a_recipient_has_is_looked_up_by_recipient_not_by_status(db, config, lookup):
    """Starting checks, for each queued recipient, whether their email or push is open or
    went out (`start.without_one`); re-inviting, whether an email is under way for each
    expired invitation (`reinvite._expired`). Both lookups must go by the recipient's own
    rows (`rows.deliveries_of`): with statistics that lag behind an import or a big start
    (a new database), PostgreSQL planned `status IN (…)` as an index scan of every open
    and sent delivery for each recipient — 8 s to start a broadcast to 5,000 patients
    after 15,000 earlier rows. Here 20,000 rows (sent, or waiting to go), never analyzed,
    as in a database just filled."""
    from core.db import is_postgres
    from core.enums import DeliveryKind
    from core.models import database
    from core.recipients.reinvite import _expired
    from core.recipients.start import without_one

    ctx, _ = ctx_at(config)
    c = campaigns.create(ctx, "invitation", "History")
    database.execute_sql(
        "INSERT INTO delivery (kind, campaign_id, idempotency_key, status, due_at, attempts, outcomes_unknown,"
        " created_at, content_version, error_code, last_error, target, requested_by)"
        " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
        f" SELECT 'email', {c.id}, 'k' || i, {database.param}, {database.param}, 1, 0, {database.param}, 1,"
        " '', '', '', '' FROM n",
        ["sent" if lookup == "start" else "pending", ctx.now(), ctx.now()],
    )
    query = without_one(c, DeliveryKind.EMAIL) if lookup == "start" else _expired(c, ctx.now())
    sql, params = query.sql()
    if is_postgres():
        plan = "\n".join(r[0] for r in database.execute_sql("EXPLAIN " + sql, params).fetchall())
    else:
        plan = "\n".join(str(r[-1]) for r in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "delivery_recipient_id" in plan, plan
    assert "delivery_status_due_at" not in plan, plan


def test_a_value_no_patient_has_is_refused_unless_confirmed(db, config):
    """`practitioner != "Dr Gagnin"` (a typo) selects everyone: the preview says so at the
    condition, and the assign refuses it (nothing written, exit 1) until confirmed."""
    from core import conditions
    from core.models import AuditLog

    ctx, _ = ctx_at(config)
    add_patients(3, practitioner="Dr Jean-François Gagnon")
    add_patients(2, 2000, practitioner="Dre Émilie Côté")
    c = campaigns.create(ctx, "invitation", "Gagnon")
    typo = [conditions.parse("practitioner != 'Dr Gagnin'")]
    preview = recipients.preview_conditions(ctx, c.id, typo)
    assert preview.matched == 5
    assert [(u.condition.value, u.suggestions) for u in preview.unknown] == [
        ("Dr Gagnin", ("Dr Jean-François Gagnon",))
    ]
    assigns = AuditLog.select().where(AuditLog.action == "assign").count()
    with pytest.raises(conditions.UnknownValues) as refused:
        recipients.assign_conditions(ctx, c.id, typo)
    assert isinstance(refused.value, Refused) and refused.value.exit_code == 1
    assert str(refused.value).splitlines() == [
        "Practitioner “Dr Gagnin”: no patient has this value; did you mean “Dr Jean-François Gagnon”?",
        "Nothing was added: correct the value, or confirm it.",
    ]
    assert Recipient.select().count() == 0
    assert AuditLog.select().where(AuditLog.action == "assign").count() == assigns
    # a value patients have, in any case: no warning, assigned as always
    meant = [conditions.parse("practitioner != 'DR JEAN-FRANÇOIS GAGNON'")]
    assert recipients.preview_conditions(ctx, c.id, meant).unknown == []
    assert recipients.assign_conditions(ctx, c.id, meant).added == 2
    # confirmed: the staff member meant it
    assert recipients.assign_conditions(ctx, c.id, typo, unknown_ok=True).added == 3
