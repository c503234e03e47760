"""Test send (SPEC §11): the message rendered for one patient reaches the staff member's
own address or app account — through the outbox, a real SMTP server and the loopback
gateway — and changes no count."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime

import pytest
from click.testing import CliRunner
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config

from cli import cli
from core import campaigns, recipients, testsend
from core.delivery import Dispatcher
from core.errors import BadInput, NotFound, Refused
from core.models import AuditLog, Delivery, Invitation, Recipient, UnsubscribeToken

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday
TPL = {
    "fr": {"title": "Vaccins", "body": "Vaccins pour tous.", "push": "Un message de {{ clinic.name }}"},
    "en": {"title": "Flu shots", "body": "Flu shots for all.", "push": "A message from {{ clinic.name }}"},
}


@pytest.fixture
def env(db, db_url, tmp_path, smtp, gw):
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    (login,) = config.users
    staff = dataclasses.replace(config.users[login], email="mlaval@clinic.example", app_id="staff-app-1")
    config = dataclasses.replace(config, users={login: staff})
    ctx, clock = ctx_at(config, T0)
    d = Dispatcher(config, clock=clock)
    yield ctx, d
    d.close()


def snapshot(cid: int) -> tuple:
    return (
        status_counts(cid),
        Recipient.select().count(),
        Invitation.select().count(),
        campaigns.get(cid).first_started_at,
    )


class TestEmail:
    def test_arrives_at_the_staff_address_marked_and_changes_no_count(self, env, smtp):
        ctx, d = env
        add_patients(1, 1000, language="en")
        add_patients(1, 1001, language="fr")
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["1000", "1001"])
        before = snapshot(c.id)
        t = testsend.send_test(ctx, c.id, "1000")
        assert (t.kind, t.to, t.patient) == ("test_email", "mlaval@clinic.example", "1000")
        testsend.send_test(ctx, c.id, "1001", to="other@clinic.example")
        assert d.run_once().sent == 2
        by_rcpt = {m.rcpt_tos[0]: m for m in smtp.messages}
        assert set(by_rcpt) == {"mlaval@clinic.example", "other@clinic.example"}
        en, fr = by_rcpt["mlaval@clinic.example"], by_rcpt["other@clinic.example"]
        assert en.message["Subject"].startswith("[TEST] ") and fr.message["Subject"].startswith("[ESSAI] ")
        assert "Prénom1000" in en.part("plain")  # rendered for that patient
        code = next(w for w in en.part("plain").split() if w.startswith("TEST-"))
        assert len(code) == len("TEST-ABCD-EFGH")
        # never an invitation: no code stored, so never valid for joining; nothing counted
        assert not Invitation.select().where(Invitation.code == code[5:]).exists()
        # nor an unsubscribe token: a staff member trying the link opts no patient out
        token = en.message["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
        assert token.startswith("test-") and not UnsubscribeToken.select().exists()
        assert snapshot(c.id) == before
        assert all(x.recipient_id is None for x in Delivery.select().where(Delivery.kind == "test_email"))
        audit = [json.loads(a.detail) for a in AuditLog.select().where(AuditLog.action == "test_send")]
        assert [(a["emr_id"], a["to"]) for a in audit] == [
            ("1000", "mlaval@clinic.example"),
            ("1001", "other@clinic.example"),
        ]

    def test_a_started_campaign_keeps_its_counts(self, env, smtp):
        ctx, d = env
        add_patients(2)
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["1000", "1001"])
        recipients.start(ctx, c.id)
        d.run_once()
        before = (snapshot(c.id), campaigns.summary(ctx, c.id).funnel)
        testsend.send_test(ctx, c.id, "1001")
        d.run_once()
        assert len(smtp.messages) == 3 and (snapshot(c.id), campaigns.summary(ctx, c.id).funnel) == before

    def test_refusals(self, env):
        ctx, d = env
        add_patients(1)
        c = campaigns.create(ctx, "invitation", "Invite")
        with pytest.raises(NotFound, match="no patient with EMR id “42”"):
            testsend.send_test(ctx, c.id, "42")
        with pytest.raises(BadInput, match="--to: expected an email address"):
            testsend.send_test(ctx, c.id, "1000", to="not an address")
        nobody = dataclasses.replace(ctx.user, email="", app_id="")
        ctx.user = nobody
        with pytest.raises(Refused, match=rf"no address for test sends: add email = .* under \[users.{nobody.login}\]"):
            testsend.send_test(ctx, c.id, "1000")
        # the command line's option by default; a screen names its own field, in the same words
        with pytest.raises(Refused, match=r", or give one in --to$"):
            testsend.send_test(ctx, c.id, "1000")
        with pytest.raises(Refused, match=r", or give one in “To”$"):
            testsend.check_destination(ctx, "invitation", field="“To”")
        with pytest.raises(BadInput, match=r"^“To”: expected an email address"):
            testsend.check_destination(ctx, "invitation", "nope", field="“To”")
        b = campaigns.create(ctx, "broadcast", "B", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
        with pytest.raises(Refused, match="no app account for broadcast test sends"):
            testsend.send_test(ctx, b.id, "1000")
        assert not Delivery.select().exists() and not AuditLog.select().where(AuditLog.action == "test_send").exists()


class TestBroadcast:
    def test_a_push_and_a_feed_entry_for_an_hour_to_the_staff_app_account(self, env, gw):
        ctx, d = env
        add_patients(2, app_id=lambda i: f"a-{i}", language="en")
        b = campaigns.create(ctx, "broadcast", "B", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
        recipients.assign_ids(ctx, b.id, ["1000", "1001"])
        d.run_once()  # the patients' feed
        before = (snapshot(b.id), gw.audience(b.uuid))
        t = testsend.send_test(ctx, b.id, "1000")
        assert (t.kind, t.to) == ("test_broadcast", "staff-app-1")
        d.run_once()
        (put,) = [r for r in gw.calls("PUT") if r.path != f"/v1/broadcasts/{b.uuid}"]
        entry = put.path.rsplit("/", 1)[1]
        assert put.body["starts_at"] == "2026-03-02T15:00:00Z" and put.body["ends_at"] == "2026-03-02T16:00:00Z"
        assert put.body["title"] == {"fr": "[ESSAI] Vaccins", "en": "[TEST] Flu shots"}
        assert gw.audience(entry) == {"staff-app-1"}
        (push,) = gw.pushes
        assert push["app_id"] == "staff-app-1" and push["data"] == {"broadcast_id": entry}
        assert push["title"] == "[TEST] Flu shots" and push["body"] == "A message from Clinique du Parc"
        assert (snapshot(b.id), gw.audience(b.uuid)) == before

    def test_a_retry_replays_what_was_done(self, env, gw):
        ctx, d = env
        add_patients(1)
        b = campaigns.create(ctx, "broadcast", "B", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
        testsend.send_test(ctx, b.id, "1000")
        gw.fail("status", status=503, path="^/v1/broadcasts/[^/]+/push$")
        d.run_once()
        assert Delivery.get().status == "retrying" and not gw.pushes
        d.clock.advance(minutes=1)
        d.run_once()
        assert Delivery.get().status == "sent" and len(gw.pushes) == 1
        assert all(n == 1 for n in gw.new_by_key.values()) and gw.replays == 2  # put and recipients


def test_cli(db, db_url, tmp_path, smtp):
    path = delivery_config(db_url, tmp_path, smtp=smtp, as_toml=True)
    path.write_text(
        path.read_text(encoding="utf-8").replace('language = "en"', 'language = "fr"'), encoding="utf-8"
    )  # a French reader
    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx, _ = ctx_at(config, T0)
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Invite")
    run = CliRunner().invoke
    r = run(cli, ["campaigns", "test", str(c.id), "--patient", "1000", "--config", str(path)])
    # the config's clinic speaks French ([clinic] default_language), and so does the command
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "pas d'adresse pour les envois d'essai" in r.output
    r = run(
        cli,
        [
            "campaigns",
            "test",
            str(c.id),
            "--patient",
            "1000",
            "--to",
            "me@clinic.example",
            "--json",
            "--config",
            str(path),
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["to"] == "me@clinic.example"
    path.write_text(path.read_text(encoding="utf-8").replace('language = "fr"', 'language = "en"'), encoding="utf-8")
    r = CliRunner().invoke(
        cli, ["campaigns", "test", str(c.id), "--patient", "1000", "--to", "me@clinic.example", "--config", str(path)]
    )
    assert r.exit_code == 0 and r.output == (  # TestSend.words: the TUI's notice says the same
        "Test email for patient 1000 queued to me@clinic.example; the scheduler sends it within moments\n"
    ), r.output
