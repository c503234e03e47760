"""Re-invite (SPEC §11): after the clock moves 15 days, only the recipients whose
invitation expired without them joining get a fresh one (new code, 14 days from its
sending), consent rules and opt-outs applying; a second run sends none."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config

from cli import cli
from core import campaigns, recipients
from core.delivery import Dispatcher
from core.errors import Refused
from core.models import AuditLog, Delivery, Invitation, OptOut, Patient
from core.patients import upsert

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday


@pytest.fixture
def env(db, db_url, tmp_path, smtp):
    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx, clock = ctx_at(config, T0)
    d = Dispatcher(config, clock=clock)
    yield ctx, clock, d, tmp_path
    d.close()


def invited(ctx, d, n=5):
    add_patients(n)
    c = campaigns.create(ctx, "invitation", "Rejoignez l'app")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1000 + n)])
    recipients.start(ctx, c.id)
    d.run_once()
    return c


def codes_by_address(smtp) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in smtp.messages:
        key = m.message["Message-ID"].strip("<>").split("@")[0]
        code = Invitation.get(Invitation.delivery == Delivery.get(Delivery.idempotency_key == key)).code
        out.setdefault(m.rcpt_tos[0], []).append(code)
    return out


def test_only_the_expired_unjoined_get_a_new_invitation_once(env, smtp):
    ctx, clock, d, tmp_path = env
    c = invited(ctx, d)
    assert len(smtp.messages) == 5
    # 1000 joins the app; 1001 opts out of email; 1002 is taken off the campaign
    (tmp_path / "join.csv").write_text("emr_id,app_id\n1000,app-1000\n", encoding="utf-8")
    assert upsert.import_csv(ctx, tmp_path / "join.csv").joined == 1
    pid = Patient.get(Patient.emr_id == "1001").id
    OptOut.create(patient=pid, channel="email", source="link", at=T0, day=date(2026, 3, 2))
    recipients.remove(ctx, c.id, "1002")

    clock.advance(days=13)
    with pytest.raises(Refused, match="nothing to re-invite"):
        recipients.reinvite(ctx, c.id)  # nothing expired yet
    clock.advance(days=2)
    plan = recipients.reinvite_plan(ctx, c.id)
    assert (plan.will_send, plan.skipped, plan.already_sent) == (2, {"opted_out_email": 1}, 0)
    assert campaigns.summary(ctx, c.id).funnel == {"invited": 5, "joined": 1, "expired": 4, "reinvited": 0}
    recipients.reinvite(ctx, c.id)
    assert status_counts(c.id) == {"sent": 2, "queued": 2, "removed": 1}
    sent_at = clock.at
    d.run_once()
    assert len(smtp.messages) == 7
    codes = codes_by_address(smtp)
    again = {a: cs for a, cs in codes.items() if len(cs) == 2}
    assert set(again) == {"p1003@example.org", "p1004@example.org"}
    assert all(old != new for old, new in again.values())  # a new code
    fresh = Invitation.select().where(Invitation.created_at == sent_at)
    assert {i.expires_at for i in fresh} == {sent_at + timedelta(days=14)} and fresh.count() == 2
    assert campaigns.summary(ctx, c.id).funnel == {"invited": 5, "joined": 1, "expired": 2, "reinvited": 2}
    assert status_counts(c.id) == {"sent": 4, "removed": 1}

    # twice in a row: nothing the second time
    with pytest.raises(
        Refused, match=r"nothing to re-invite.*\(1 forbidden by a consent rule or opt-out\); 2 re-invited before"
    ):
        recipients.reinvite(ctx, c.id)
    d.run_once()
    assert len(smtp.messages) == 7
    assert AuditLog.select().where(AuditLog.action == "reinvite").count() == 1

    # once per expired invitation: when the fresh ones expire unanswered too, once more
    clock.advance(days=15)
    assert recipients.reinvite(ctx, c.id).will_send == 2
    d.run_once()
    assert len(smtp.messages) == 9


def test_a_broadcast_is_not_reinvited(env):
    ctx, clock, d, tmp_path = env
    b = campaigns.create(
        ctx,
        "broadcast",
        "B",
        date(2026, 3, 1),
        date(2026, 3, 6),
        templates={"fr": {"title": "T", "body": "B", "push": "P"}},
    )
    with pytest.raises(Refused, match="only an invitation can be re-invited"):
        recipients.reinvite_plan(ctx, b.id)


def test_an_archived_campaign_is_refused_by_the_dry_run_too(env):
    """The dry run planned « 2 to send » where the re-invite itself said « archived »."""
    ctx, clock, d, tmp_path = env
    c = invited(ctx, d, n=2)
    clock.advance(days=15)  # their invitations expired unanswered
    assert recipients.reinvite_plan(ctx, c.id).will_send == 2
    campaigns.archive(ctx, c.id)
    for call in (recipients.reinvite_plan, recipients.reinvite):
        with pytest.raises(Refused, match="is archived"):
            call(ctx, c.id)


def test_cli(env, smtp, db_url):
    ctx, clock, d, tmp_path = env
    c = invited(ctx, d, 2)
    path = delivery_config(db_url, tmp_path, smtp=smtp, as_toml=True)
    path.write_text(path.read_text().replace('default_language = "fr"', 'default_language = "en"'))  # reads English
    run = CliRunner().invoke
    # the CLI runs at the real time: the invitations' expiry is moved around it
    Invitation.update(expires_at=datetime(2100, 1, 1)).execute()
    r = run(cli, ["campaigns", "reinvite", str(c.id), "--config", str(path)])
    assert r.exit_code == 1 and r.output.startswith("clinicast: nothing to re-invite") and r.output.count("\n") == 1
    Invitation.update(expires_at=datetime(2020, 1, 1)).execute()
    r = run(cli, ["campaigns", "reinvite", str(c.id), "--dry-run", "--json", "--config", str(path)])
    assert r.exit_code == 0 and json.loads(r.output)["will_send"] == 2
    assert json.loads(r.output)["nobody_sends"] is True  # no daemon alive: a script knows they wait
    # the breakdown and the result in core's words, those the TUI's confirmation and notice say;
    # no daemon alive and the command line never sends: not "now", they wait for the daemon
    r = run(cli, ["campaigns", "reinvite", str(c.id), "--dry-run", "--config", str(path)])
    assert r.exit_code == 0 and r.output == (
        "Will be sent a fresh invitation (new code, 14 days): 2, once the sending daemon runs — none is running now\n"
        "Re-invited before (not sent again): 0\n"
    )
    assert not Delivery.select().where(Delivery.status == "pending").exists()
    r = run(cli, ["campaigns", "reinvite", str(c.id), "--config", str(path)])
    assert r.exit_code == 0 and r.output == (
        "Re-invited: 2 fresh invitations queued\n"
        "2 emails will wait in the queue until the sending daemon runs — none is running now.\n"
        "Re-invited before (not sent again): 0\n"
    )
    assert Delivery.select().where(Delivery.status == "pending").count() == 2


def test_the_help_says_how_long_a_fresh_invitation_is_valid_from_core(monkeypatch):
    """--help wrote « (new code, 14 days) » by hand: core's INVITATION_VALID_DAYS is the one
    value (the TUI's breakdown says it too)."""
    from core.campaigns import actions

    monkeypatch.setattr(actions, "INVITATION_VALID_DAYS", 21)
    r = CliRunner().invoke(cli, ["campaigns", "reinvite", "--help"], terminal_width=200)
    assert r.exit_code == 0 and "(new code, 21 days)" in r.output, r.output


def test_campaigns_show_says_who_re_invited_and_when(env, smtp, db_url):
    """« Who sent this? »: a re-invitation sends invitations too, and `campaigns show` (and its
    --json) said who created, started and stopped the campaign, not who re-invited it. It says
    the latest re-invitation — who, when, how many — after the start, as the other acts."""
    from core.context import login_name

    ctx, clock, d, tmp_path = env
    c = invited(ctx, d, 2)
    path = delivery_config(db_url, tmp_path, smtp=smtp, as_toml=True)
    path.write_text(path.read_text().replace('default_language = "fr"', 'default_language = "en"'))  # reads English

    def show(*more):
        r = CliRunner().invoke(cli, ["campaigns", "show", str(c.id), *more, "--config", str(path)])
        assert r.exit_code == 0, r.output
        return json.loads(r.output) if more else r.output.splitlines()

    before = show("--json")
    assert [before[k] for k in ("reinvited_by", "reinvited_at", "reinvited_count")] == [None] * 3
    assert not any("re-invited" in line for line in show())
    Invitation.update(expires_at=datetime(2020, 1, 1)).execute()  # the CLI runs at the real time
    r = CliRunner().invoke(cli, ["campaigns", "reinvite", str(c.id), "--config", str(path)])
    assert r.exit_code == 0, r.output
    after = show("--json")
    assert (after["reinvited_by"], after["reinvited_count"]) == (login_name(), 2)
    assert after["reinvited_at"].endswith("Z") and after["reinvited_at"] > after["started_at"]
    assert {k: v for k, v in after.items() if not k.startswith("reinvited_")}.keys() == {
        k for k in before if not k.startswith("reinvited_")
    }  # the fields that were there are still there
    lines = show()
    assert lines[-1].strip().startswith("re-invited 2 patients ") and lines[-1].endswith(f"by {login_name()}"), lines
