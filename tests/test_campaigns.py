"""Campaigns: create/edit/archive, names, windows, statuses, audit."""

import json
from datetime import date, datetime, timedelta

import pytest
from helpers import add_patients, ctx_at

from core import campaigns, recipients
from core.errors import BadInput, PermissionDenied, Refused
from core.models import AuditLog, Campaign, Delivery, Template

TPL = {
    "fr": {"title": "Congé", "body": "La clinique {{ clinic.name }} est fermée.", "push": "Nouveau message"},
    "en": {"title": "Holiday", "body": "The clinic is closed.", "push": "New message"},
}


def test_create_invitation_gets_default_bilingual_template(db, config):
    ctx, _ = ctx_at(config)
    c = campaigns.create(ctx, "invitation", "  Invite everyone  ")
    assert c.name == "Invite everyone" and c.channel == "email"
    t = campaigns.get_templates(ctx, c.id)
    for lang in ("fr", "en"):
        assert "{{ invitation.url }}" in t[lang]["body"].replace("{{invitation.url}}", "{{ invitation.url }}")
        assert t[lang]["subject"]
    s = campaigns.summary(ctx, c)
    assert s.status == "draft" and s.window_state is None
    assert s.to_json()["counts"] == {}
    a = AuditLog.get(AuditLog.action == "create")
    assert a.user == ctx.user.login and json.loads(a.detail)["name"] == "Invite everyone"


def test_templates_given_for_one_language_keep_the_other(db, config):
    """The rule the command line's template file and the TUI's editor both save through
    (core.templating.over): a language left out is kept — a new invitation's default, or
    the version as it was — and an empty one given empties it on purpose."""
    from core.templating import DEFAULT_INVITATION

    ctx, _ = ctx_at(config)
    fr = {"subject": "Bonjour", "body": "Bonjour {{ invitation.url }} [désabonnement]({{ unsubscribe.url }})"}
    c = campaigns.create(ctx, "invitation", "Invite", templates={"fr": fr})
    assert campaigns.get_templates(ctx, c.id) == {"fr": fr, "en": DEFAULT_INVITATION["en"]}
    assert [str(k) for k in campaigns.kept_versions(ctx, c.id, {"fr": fr}, created=True)] == [
        "The English version keeps the default template."
    ]
    en = {"subject": "Hello", "body": "Hello {{ invitation.url }} [unsubscribe]({{ unsubscribe.url }})"}
    campaigns.edit(ctx, c.id, templates={"en": en})
    assert campaigns.get_templates(ctx, c.id) == {"fr": fr, "en": en}
    assert [str(k) for k in campaigns.kept_versions(ctx, c.id, {"en": en}, created=False)] == [
        "The French version is kept as it was."
    ]
    campaigns.edit(ctx, c.id, templates={"fr": fr, "en": {}})
    assert campaigns.get_templates(ctx, c.id)["en"] == {"subject": "", "body": ""}
    assert campaigns.kept_versions(ctx, c.id, {"fr": fr, "en": {}}, created=False) == []
    # a blank version left out is not "kept": the language gaps say what its speakers get
    assert campaigns.kept_versions(ctx, c.id, {"fr": fr}, created=False) == []
    # a broadcast has no default: the language left out stays blank
    b = campaigns.create(ctx, "broadcast", "B", "2026-12-02", "2026-12-03", templates={"fr": TPL["fr"]})
    assert campaigns.get_templates(ctx, b.id)["en"] == {"title": "", "body": "", "push": ""}
    assert campaigns.kept_versions(ctx, b.id, {"fr": TPL["fr"]}, created=True) == []


@pytest.mark.parametrize(
    "kind,name,starts,ends,field,fragment",
    [
        ("invitation", "", None, None, "name", "required"),
        ("invitation", "x" * 121, None, None, "name", "at most 120"),
        ("broadcast", "B", None, date(2026, 12, 5), "starts_on", "first day"),
        ("broadcast", "B", date(2026, 12, 5), date(2026, 12, 4), "ends_on", "before the first"),
        ("invitation", "I", date(2026, 12, 5), None, "starts_on", "no window"),
        ("letter", "L", None, None, "kind", "expected one of"),
    ],
)
def test_create_refuses_bad_fields(db, config, kind, name, starts, ends, field, fragment):
    ctx, _ = ctx_at(config)
    assert fragment in campaigns.validate_fields(kind, name, starts, ends)[field]
    with pytest.raises(BadInput, match=fragment):
        campaigns.create(ctx, kind, name, starts, ends)
    assert Campaign.select().count() == 0 and AuditLog.select().count() == 0


def test_names_unique_among_unarchived(db, config):
    ctx, _ = ctx_at(config)
    c = campaigns.create(ctx, "invitation", "Spring")
    with pytest.raises(BadInput, match="already named"):
        campaigns.create(ctx, "invitation", "Spring")
    campaigns.archive(ctx, c.id)
    again = campaigns.create(ctx, "invitation", "Spring")
    with pytest.raises(BadInput, match="already named"):
        campaigns.archive(ctx, c.id, archived=False)
    assert [s.id for s in campaigns.summaries(ctx)] == [again.id]
    assert {s.id for s in campaigns.summaries(ctx, include_archived=True)} == {c.id, again.id}


def test_bad_template_refused_with_line_and_nothing_saved(db, config):
    ctx, _ = ctx_at(config)
    bad = {"fr": {"subject": "Bonjour", "body": "Ligne 1\n{{ patient.frist_name }}"}, "en": {}}
    with pytest.raises(BadInput) as e:
        campaigns.create(ctx, "invitation", "Typo", templates=bad)
    assert "line 2" in str(e.value) and "frist_name" in str(e.value)
    assert Campaign.select().count() == 0 and Template.select().count() == 0


def test_window_states_and_status(db, config):
    ctx, clock = ctx_at(config, datetime(2026, 12, 1, 12, 0))  # 07:00 in Toronto
    b = campaigns.create(ctx, "broadcast", "Holidays", "2026-12-02", "2026-12-03", templates=TPL)
    assert campaigns.summary(ctx, b).window_state == "upcoming"
    clock.at = datetime(2026, 12, 2, 5, 0)  # midnight in Toronto: opens
    assert campaigns.summary(ctx, b).window_state == "live"
    clock.at = datetime(2026, 12, 4, 4, 59)  # 23:59 on the last day
    assert campaigns.summary(ctx, b).window_state == "live"
    clock.at = datetime(2026, 12, 4, 5, 0)
    assert campaigns.summary(ctx, b).window_state == "ended"
    assert campaigns.window_bounds(b, config.clinic.tz) == (datetime(2026, 12, 2, 5), datetime(2026, 12, 4, 5))
    assert campaigns.status_of(b, {}) == "draft"
    b.first_started_at = clock.at
    assert campaigns.status_of(b, {"queued": 1, "sent": 3}) == "sending"
    assert campaigns.status_of(b, {"failed": 1, "sent": 3}) == "sent with errors"
    assert campaigns.status_of(b, {"sent": 3, "skipped": 1}) == "sent"


def test_edit_window_of_published_broadcast_queues_a_put(db, config):
    ctx, _ = ctx_at(config)
    today = ctx.today()
    add_patients(3, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Live", today, today + timedelta(days=2), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002"])
    assert Delivery.select().where(Delivery.kind == "put").count() == 1
    campaigns.edit(ctx, b.id, ends_on=today + timedelta(days=5))
    puts = list(Delivery.select().where(Delivery.kind == "put").order_by(Delivery.id))
    assert [p.content_version for p in puts] == [1, 2]
    assert puts[0].status == "cancelled" and puts[1].status == "pending"
    with pytest.raises(BadInput, match="before the first"):
        campaigns.edit(ctx, b.id, ends_on=today - timedelta(days=1))
    assert Campaign.get_by_id(b.id).ends_on == today + timedelta(days=5)


def test_kind_is_fixed_and_permission_checked_in_core(db, config):
    from core.config.types import User
    from core.context import Ctx

    ctx, _ = ctx_at(config)
    c = campaigns.create(ctx, "invitation", "One")
    nobody = Ctx(config, User("nobody", "Nobody", frozenset()))
    for call in (
        lambda: campaigns.create(nobody, "invitation", "Two"),
        lambda: campaigns.edit(nobody, c.id, name="Renamed"),
        lambda: campaigns.summaries(nobody),
        lambda: recipients.start(nobody, c.id),
    ):
        with pytest.raises(PermissionDenied, match="lacks the 'campaigns' permission"):
            call()
    assert Campaign.get_by_id(c.id).name == "One"


def test_archiving_twice_is_refused_and_writes_nothing(db, config):
    """Archiving an archived campaign (or bringing back one in the list) changed nothing but
    wrote an audit row « archive » each time, as if it had happened."""
    ctx, clock = ctx_at(config)
    c = campaigns.create(ctx, "invitation", "Spring")
    with pytest.raises(Refused, match=f"campaign {c.id} is not archived"):
        campaigns.archive(ctx, c.id, archived=False)
    campaigns.archive(ctx, c.id)
    archived_at = Campaign.get_by_id(c.id).updated_at
    clock.advance(minutes=5)
    with pytest.raises(Refused, match=f"campaign {c.id} is already archived"):
        campaigns.archive(ctx, c.id)
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == ["create", "archive"]
    assert Campaign.get_by_id(c.id).updated_at == archived_at


def test_archive_refused_while_sending(db, config):
    ctx, _ = ctx_at(config)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Busy")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    recipients.start(ctx, c.id)
    with pytest.raises(Refused, match="under way"):
        campaigns.archive(ctx, c.id)


def test_a_template_previewed_before_any_patient_is_imported_renders_for_an_example_patient(db, config):
    """A clinic's first day: no patient imported yet, and the editor, which says « pour un
    patient exemple », showed the default template as an error (« corps ligne 1 : variable
    inconnue « patient » »): the preview had no patient at all. It renders with the
    catalogue's example patient now, as validation does, and audits no patient read."""
    from core import views
    from core.templating import sample_context

    ctx, _clock = ctx_at(config, datetime(2026, 3, 2, 15, 0))
    kind = "invitation"  # its default template greets the patient by name
    c = campaigns.create(ctx, kind, "Premier jour")
    for language in ("fr", "en"):
        fields = campaigns.get_templates(ctx, c.id)[language]
        preview = views.template_preview(ctx, c.id, fields, language)
        assert preview.errors == {} and preview.problems == [], (language, preview.errors, preview.problems)
        assert preview.patient == "" and preview.patient_id is None
        example = sample_context(kind, language)["patient"]["first_name"]
        assert any(example in text for text in preview.fields.values()), (example, preview.fields)
    assert not AuditLog.select().where(AuditLog.action == "preview").exists()
