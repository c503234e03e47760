"""The audit trail in the administrator's words (SPEC §6, §12): every action's detail,
as the real actions record it, said in their language with each moment in the clinic's
time zone — what the TUI's audit screen and `clinicast audit` show; --json and --csv keep
the stored codes."""

import json
import re
from datetime import date, datetime

import pytest
from helpers import add_patients, ctx_at
from pseudo import leak_report, leaks, speaking_pseudo

from core import campaigns, conditions, exports, i18n, recipients, views
from core.audit import read as audit_read
from core.audit.words import describe
from core.optouts import feed, ledger
from core.patients import view
from core.patients.upsert import import_csv
from core.testsend import send_test

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, the clinic's zone (EST)
MESSAGE = {
    "fr": {"title": "Vaccin", "body": "La clinique vaccine.", "push": "Nouveau message"},
    "en": {"title": "Flu shot", "body": "The clinic vaccinates.", "push": "New message"},
}


def _every_action(config, tmp_path) -> list[str]:
    """Each kind of audit row, made by the action itself; the data the rows hold."""
    ctx, clock = ctx_at(config, T0)
    add_patients(4, app_id=lambda i: f"app-{i}")
    csv_file = tmp_path / "patients.csv"
    csv_file.write_text("emr_id,first_name,last_name,email,marketing_consent\n2001,Léa,Roy,lea@example.org,yes\n")
    import_csv(ctx, csv_file)
    inv = campaigns.create(ctx, "invitation", "Rejoignez-nous")
    bc = campaigns.create(ctx, "broadcast", "Vaccin", date(2026, 3, 2), date(2026, 3, 31), templates=MESSAGE)
    campaigns.edit(ctx, bc.id, name="Vaccin antigrippal", ends_on=date(2026, 4, 30))
    campaigns.edit(ctx, inv.id, templates=campaigns.get_templates(ctx, inv.id))
    campaigns.archive(ctx, inv.id)
    campaigns.archive(ctx, inv.id, archived=False)
    recipients.assign_patient(ctx, inv.id, "2001")
    recipients.assign_conditions(ctx, bc.id, conditions.parse_all(["age >= 18", "connected_system = patient_app"]))
    recipients.assign_ids(ctx, inv.id, ["1000", "1001", "9999"])
    recipients.start(ctx, inv.id)
    recipients.remove(ctx, inv.id, "1001")
    recipients.stop(ctx, inv.id)
    send_test(ctx, inv.id, "2001", "moi@example.org")
    ledger.record(ctx, "1002", "email", "au téléphone")
    ledger.clear(ctx, "1002", "email", "erreur de saisie")
    gateway = feed.feed_ctx(config, lambda: T0)
    at = "2026-03-02T14:30:00Z"  # 09:30 in Toronto
    feed.record_page(gateway, [{"app_id": "app-1003", "channel": "push", "opted_out": True, "at": at}], None)
    later = "2026-03-02T14:45:00Z"
    feed.record_page(gateway, [{"app_id": "app-1003", "channel": "push", "opted_out": False, "at": later}], None)
    exports.recipients_csv(ctx, inv.id)
    exports.recipients_csv(ctx, inv.id, "sent")
    audit_read.search_patients(ctx, "Tremblay")
    views.template_preview(ctx, inv.id, campaigns.get_templates(ctx, inv.id)["fr"], "fr")
    view.show(ctx, "1000")
    # a value no patient has, confirmed (the TUI's question, --allow-unknown-values)
    recipients.assign_conditions(ctx, bc.id, conditions.parse_all(["practitioner != 'Dr Nobody'"]), unknown_ok=True)
    return [str(csv_file), "Rejoignez-nous", "Vaccin antigrippal", "moi@example.org", "au téléphone",
            "erreur de saisie", "Tremblay", "app", "Dr Nobody"]  # fmt: skip


EVERY_ACTION = {"import", "create", "edit", "archive", "unarchive", "assign", "start", "remove", "stop", "test_send",
                "opt_out", "opt_in", "export", "patient_search", "preview", "patient_show"}  # fmt: skip


def test_every_action_is_said_in_the_readers_words(db, config, tmp_path, pseudo_localedir):
    data = _every_action(config, tmp_path)
    ctx, _clock = ctx_at(config, T0)
    rows = audit_read.read(ctx)
    assert {r.action for r in rows} >= EVERY_ACTION, "each kind of row, made by its own action"
    tz = config.clinic.tz
    with speaking_pseudo(pseudo_localedir):
        said = "\n".join(describe(r.detail, tz) for r in rows)
    # every key and every coded value in words: a key without words shows as key=value
    assert not leaks(said, data), leak_report(said, data)
    assert not re.search(r"\w=", said), said  # a condition's sign stands between spaces: « Âge >= 18 »


def test_moments_are_the_clinics_and_codes_are_words(db, config, tmp_path):
    _every_action(config, tmp_path)
    ctx, _clock = ctx_at(config, T0)
    tz = config.clinic.tz
    said: dict[str, list[str]] = {}
    i18n.use("fr")
    try:
        for r in audit_read.read(ctx):
            said.setdefault(r.action, []).append(describe(r.detail, tz))
    finally:
        i18n.use("en")
    [start] = said["start"]
    # queued for 15:00 UTC: 10:00 in Toronto, to the second, as the When column says it
    assert "premiers envois\u00a0: 2 mars 2026 10:00:00" in start, start
    assert "15:00" not in start
    staff, app = said["opt_out"]
    assert "demande" not in staff and "source\u00a0: personnel" in staff, staff  # its own row's time
    assert "note\u00a0: «\u00a0au téléphone\u00a0»" in staff, staff
    assert "date de la demande\u00a0: 2 mars 2026 09:30:00" in app and "source\u00a0: application ·" in app, app
    assert "canal\u00a0: courriel · désabonnements levés\u00a0: courriel (personnel, 2 mars 2026)" in said["opt_in"][0]
    assert "désabonnements levés\u00a0: 1" in said["opt_in"][1], said["opt_in"]
    by_conditions = said["assign"][1]
    assert "ajoutés par\u00a0: des conditions · conditions\u00a0: Âge >= 18, Système connecté = sur l'application" in (
        by_conditions
    ), by_conditions
    # an assign says why it left patients out, as a start does (its stored row: {reason: n})
    assert said["assign"][2].endswith("écartés\u00a0: 2 (déjà dans l'application 2)"), said["assign"]
    window, templates = said["edit"]
    assert window == (
        "nom\u00a0: «\u00a0Vaccin\u00a0» → «\u00a0Vaccin antigrippal\u00a0» · "
        "dates\u00a0: du 2 mars 2026 au 31 mars 2026 → du 2 mars 2026 au 30 avr. 2026"
    ), window
    assert templates == "modèles\u00a0: modifiés"
    assert said["export"] == [
        "exporté\u00a0: la liste des destinataires · statut\u00a0: tous les statuts · lignes\u00a0: 3",
        "exporté\u00a0: la liste des destinataires · statut\u00a0: envoyé · lignes\u00a0: 0",
    ]
    assert said["test_send"][0].startswith(
        "type\u00a0: courriel d'essai · n° de dossier\u00a0: 2001 · envoyé à\u00a0: moi@"
    ), said["test_send"]


@pytest.mark.parametrize(
    ("detail", "english", "french"),
    [
        ({"skipped": {"no_marketing_consent": 2, "do_not_contact": 1}, "will_send": 1200},
         "to send: 1,200 · skipped: 3 (no marketing consent 2, do not contact 1)",
         "à envoyer\u00a0: 1\u00a0200 · écartés\u00a0: 3 (sans consentement 2, ne pas contacter 1)"),
        ({"how": "list", "count": 3, "added": 2, "skipped": 0},
         "added by: a list of EMR ids · EMR ids in the list: 3 · added: 2 · skipped: 0",
         "ajoutés par\u00a0: une liste de n° de dossier · n° de dossier dans la liste\u00a0: 3 · ajoutés\u00a0: 2 · "
         "écartés\u00a0: 0"),
        ({"name": ["Old", "New"]}, "name: “Old” → “New”", "nom\u00a0: «\u00a0Old\u00a0» → «\u00a0New\u00a0»"),
        ({"previous_status": "queued", "cancelled": 1}, "status before: queued · sends cancelled: 1",
         "statut avant\u00a0: en file · envois annulés\u00a0: 1"),
        ({"channel": "email", "already": True, "note": ""}, "channel: email · already opted out: yes",
         "canal\u00a0: courriel · déjà désabonné\u00a0: oui"),
        ({"a_newer_key": 5, "added": 1}, "added: 1 · a_newer_key=5", "ajoutés\u00a0: 1 · a_newer_key=5"),
        ({"window": [[None, None], ["2026-03-02", "2026-03-31"]]}, "dates: — to — → Mar 2, 2026 to Mar 31, 2026",
         "dates\u00a0: du — au — → du 2 mars 2026 au 31 mars 2026"),
        ({"how": "conditions", "conditions": ["practitioner != Dr Ray"],
          "unknown_values_confirmed": ["practitioner != Dr Ray"]},
         "added by: conditions · conditions: Practitioner != Dr Ray · "
         "confirmed though no patient has the value: Practitioner != Dr Ray",
         "ajoutés par\u00a0: des conditions · conditions\u00a0: Médecin != Dr Ray · "
         "confirmé bien qu'aucun patient n'ait cette valeur\u00a0: Médecin != Dr Ray"),
    ],
)  # fmt: skip
def test_a_detail_in_each_language(detail, english, french, config):
    """Counts as each language writes them, reasons in words, empty facts left out, a key
    from a newer version as stored."""
    tz = config.clinic.tz
    assert describe(detail, tz) == english
    i18n.use("fr")
    try:
        assert describe(detail, tz) == french
    finally:
        i18n.use("en")


def test_json_keeps_the_stored_codes(db, config, tmp_path):
    _every_action(config, tmp_path)
    ctx, _clock = ctx_at(config, T0)
    [start] = [r for r in audit_read.read(ctx) if r.action == "start"]
    assert json.loads(json.dumps(start.to_json(), default=str))["detail"]["queued_for"] == "2026-03-02 15:00:00"
