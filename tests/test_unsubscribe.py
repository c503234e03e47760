"""Patient trust end to end (issue #10), tried as a clinic would: real emails through a
real SMTP server, a patient's one-click unsubscribe at the loopback gateway, the next
tick's opt-out feed, a re-import, a start, an administrator's opt-in — on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import httpx
import pytest
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config
from test_dispatch import TPL

from core import campaigns, formats, recipients
from core.delivery import Dispatcher
from core.delivery.store import in_flight
from core.models import AuditLog, Delivery, FeedItem, OptOut, Patient, Recipient, UnsubscribeToken
from core.optouts import feed as optout_feed
from core.optouts import ledger
from core.patients import upsert
from core.scheduling.scheduler import Scheduler

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday


@pytest.fixture
def setup(db, db_url, tmp_path, smtp, gw):
    """(ctx, clock, dispatcher, scheduler) whose emails link to the loopback gateway's page."""
    config = delivery_config(
        db_url, tmp_path, smtp=smtp, gateway=gw, email={"unsubscribe_url": f"{gw.url}/unsubscribe"}
    )
    ctx, clock = ctx_at(config, T0)
    d = Dispatcher(config, clock=clock)
    yield ctx, clock, d, Scheduler(config, clock=clock, dispatcher=d)
    d.close()


def links(smtp):
    """{recipient address: (List-Unsubscribe link, text, html, message)}."""
    out = {}
    for m in smtp.messages:
        msg = m.message
        # a long link is folded onto a continuation line (RFC 5322): unfolded, the leading
        # white space is comment-and-folding space around <URL> (RFC 2369)
        header = str(msg["List-Unsubscribe"]).strip()
        assert header.startswith("<") and header.endswith(">") and header.count("<") == 1
        out[m.rcpt_tos[0]] = (header[1:-1], m.part("plain"), m.part("html"), msg)
    return out


def test_a_patient_unsubscribes_by_the_link_and_stays_out_until_an_admin_opts_them_in(setup, smtp, gw, tmp_path):
    ctx, clock, d, sched = setup
    add_patients(2, 1000, language=lambda i: "en" if i % 2 else "fr")
    first = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, first.id, ["1000", "1001"])
    recipients.start(ctx, first.id)
    assert sched.run_due().sent == 2

    # every email: both headers, a working personal link, the footer in the patient's language
    got = links(smtp)
    assert len({link for link, *_ in got.values()}) == 2
    for emr in ("1000", "1001"):
        p = Patient.get(Patient.emr_id == emr)
        link, text, html, msg = got[p.email]
        token = UnsubscribeToken.get(UnsubscribeToken.patient == p.id).token
        assert len(token) >= 32 and link == f"{gw.url}/unsubscribe/{token}"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert link in text and f'href="{link}"' in html
        if p.language == "en":
            footer = ["This email is sent to you by Clinique du Parc", "1234 rue Saint-Denis", "Phone: 514-555-0100"]
        else:
            footer = [
                "Ce courriel vous est envoyé par Clinique du Parc",
                "1234 rue Saint-Denis",
                "Téléphone\u00a0: 514-555-0100",  # a no-break space before the colon (Quebec typography)
            ]
        assert text.rstrip().splitlines()[-3:] == footer, "the text part ends with the identification"
        tail = html[html.rindex("<footer") :]
        assert all(x in tail for x in footer) and tail.rstrip().endswith("</html>")

    # a second campaign is assigned before anyone unsubscribes
    second = campaigns.create(ctx, "invitation", "Join, reminder")
    recipients.assign_ids(ctx, second.id, ["1000", "1001"])

    # patient 1000's mail client does the one-click POST; the next tick records it
    p1000 = Patient.get(Patient.emr_id == "1000")
    r = httpx.post(got[p1000.email][0], data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and len(gw.unsubscribe_clicks) == 1
    clock.advance(minutes=1)
    sched.run_due()
    [o] = OptOut.select()
    assert (o.patient_id, o.channel, o.source, o.recorded_by) == (p1000.id, "email", "link", "gateway")
    assert optout_feed.cursor() == "c-000001"
    sched.run_due()  # the next tick: nothing new, the same item is not recorded twice
    assert OptOut.select().count() == 1 and FeedItem.select().count() == 1

    # the record system still says "marketing consent: oui": the import keeps the opt-out
    csv = tmp_path / "export.csv"
    csv.write_text("No dossier;Consentement marketing;Ne pas contacter\n1000;oui;non\n1001;oui;non\n", "utf-8")
    assert upsert.import_csv(ctx, csv).kept_opted_out == 1

    # the next start skips them, saying why
    recipients.start(ctx, second.id)
    rows = {r.emr_id: r for r in recipients.page(ctx, second.id, limit=None)}
    assert rows["1000"].status == "skipped"
    assert rows["1000"].reason("en") == f"opted out of email on {o.day} (unsubscribe link)"  # --json: ISO
    assert rows["1000"].reason() == f"opted out of email on {formats.day(o.day)} (unsubscribe link)"
    assert sched.run_due().sent == 1 and len(smtp.messages) == 3
    assert smtp.messages[-1].rcpt_tos == [Patient.get(Patient.emr_id == "1001").email]

    # an administrator's opt-in, with a note, brings them back, audited; the old link stays theirs
    ledger.clear(ctx, "1000", "email", "called the clinic: wants the app invitation")
    third = campaigns.create(ctx, "invitation", "Join, again")
    recipients.assign_ids(ctx, third.id, ["1000"])
    recipients.start(ctx, third.id)
    assert sched.run_due().sent == 1
    assert links(smtp)[p1000.email][0] == got[p1000.email][0]
    opt_in = AuditLog.get(AuditLog.action == "opt_in")
    assert json.loads(opt_in.detail)["note"] == "called the clinic: wants the app invitation"
    assert [a.user for a in AuditLog.select().where(AuditLog.action == "opt_out")] == ["gateway"]


def test_feed_items_repeated_out_of_order_unknown_or_malformed_change_nothing_twice(setup, gw):
    ctx, clock, d, sched = setup
    add_patients(3, 1000, app_id=lambda i: f"a-{i}")
    gw.add_opt_out(app_id="a-1000", channel="push", at="2026-03-01T10:00:00Z")
    gw.add_opt_out(app_id="a-1000", channel="push", at="2026-03-01T10:00:00Z")  # a repeat
    gw.add_opt_out(token="never-made-by-clinicast", channel="email")
    gw.add_opt_out(app_id="a-9999", channel="feed")
    gw.add_opt_out({"channel": "feed", "opted_out": True})  # neither token nor app id
    gw.add_opt_out(app_id="a-1001", channel="feed", at="2026-03-01T12:00:00Z")
    # turned back on, but *before* the opt-out above: arrives late, undoes nothing
    gw.add_opt_out(app_id="a-1001", channel="feed", opted_out=False, at="2026-03-01T11:00:00Z")
    gw.add_opt_out(app_id="a-1002", channel="email", opted_out=False)  # only an admin undoes email
    stats = optout_feed.pull(d, clock)
    assert (stats.items, stats.recorded, stats.repeated, stats.unknown, stats.ignored) == (8, 2, 1, 2, 2)
    active = {(o.patient.emr_id, o.channel, o.source) for o in OptOut.select().where(OptOut.cleared_at.is_null())}
    assert active == {("1000", "push", "app"), ("1001", "feed", "app")}
    assert optout_feed.cursor() == "c-000008"

    # the same page again (the gateway lost our cursor): nothing changes
    from core.models import Meta

    Meta.delete().where(Meta.key == optout_feed.CURSOR_KEY).execute()
    again = optout_feed.pull(d, clock)
    assert (again.repeated, again.ignored, again.recorded) == (7, 1, 0) and OptOut.select().count() == 2

    # turned back on in the app later: clears the app's push opt-out, never a staff one
    ledger.record(ctx, "1002", "push", "asked at the desk")
    gw.add_opt_out(app_id="a-1000", channel="push", opted_out=False, at="2026-03-01T13:00:00Z")
    gw.add_opt_out(app_id="a-1002", channel="push", opted_out=False, at="2026-03-01T13:00:00Z")
    optout_feed.pull(d, clock)
    active = {(o.patient.emr_id, o.channel, o.source) for o in OptOut.select().where(OptOut.cleared_at.is_null())}
    assert active == {("1001", "feed", "app"), ("1002", "push", "staff")}

    # a feed the gateway cannot serve now is not fatal: logged, cursor kept, dispatch goes on
    gw.fail("status", status=503, method="GET", path="/v1/opt-outs", message="down for maintenance")
    before = optout_feed.cursor()
    assert optout_feed.pull(d, clock).error == "down for maintenance"
    assert optout_feed.cursor() == before
    sched.run_due()


def test_an_opt_out_arriving_while_a_push_is_in_flight_stops_everything_after_it(setup, gw):
    ctx, clock, d, sched = setup
    today = ctx.today()
    add_patients(2, 1000, app_id=lambda i: f"a-{i}")
    c = campaigns.create(ctx, "broadcast", "Flu", starts_on=today, ends_on=today + timedelta(days=5), templates=TPL)
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    assert sched.run_due().sent >= 2  # put + publishes
    recipients.start(ctx, c.id)
    # the gateway holds the push request until the opt-out is recorded: in flight for sure
    gw.fail("hold", then="answer", path=f"/v1/broadcasts/{c.uuid}/push")
    passing = threading.Thread(target=d.run_once)
    passing.start()
    try:
        assert gw.wait_for(lambda g: any(r.path.endswith("/push") for r in g.requests), timeout=30)
        held = Delivery.select().where(Delivery.kind == "push", in_flight())
        assert {dl.recipient.patient.emr_id for dl in held} == {"1000", "1001"}, "both pushes are in flight"
        # the patient turns push and feed off while their push is in flight
        gw.add_opt_out(app_id="a-1000", channel="feed")
        optout_feed.record_page(optout_feed.feed_ctx(ctx.config, clock), gw.opt_out_items[-1:], "c-000001")
    finally:
        gw.release.set()
        passing.join(60)
    assert {p["app_id"] for p in gw.pushes} == {"a-1000", "a-1001"}, "what was in flight finished"
    pushed_before = len(gw.pushes)
    # the in-flight push finished (the ledger tells the truth); the broadcast leaves their feed
    sched.run_due()
    second = campaigns.create(
        ctx, "broadcast", "Flu 2", starts_on=today, ends_on=today + timedelta(days=5), templates=TPL
    )
    recipients.assign_ids(ctx, second.id, ["1000", "1001"])
    recipients.start(ctx, second.id)
    sched.run_due()
    sched.run_due()
    assert [p["app_id"] for p in gw.pushes[pushed_before:]] == ["a-1001"], "nothing reaches 1000 after the opt-out"
    assert "a-1000" not in gw.audience(c.uuid) and "a-1000" not in gw.audience(second.uuid)
    assert status_counts(second.id) == {"sent": 1, "skipped": 1}
    assert Delivery.select().where(Delivery.kind == "unpublish", Delivery.status == "sent").count() == 1
    r1000 = Recipient.get(Recipient.campaign == second.id, Recipient.patient == Patient.get(Patient.emr_id == "1000"))
    assert r1000.reason_code == "opted_out_feed"


def test_the_log_sink_answers_an_empty_feed(db, db_url, tmp_path):
    config = delivery_config(db_url, tmp_path)  # gateway transport "log"
    with Dispatcher(config) as d:
        stats = optout_feed.pull(d)
    assert (stats.pages, stats.items, stats.error) == (1, 0, "") and optout_feed.cursor() is None


LONG_URL = "https://unsubscribe.mailbox-provider.example/clinics/clinique-du-parc/v2/unsubscribe"


def test_list_unsubscribe_is_plain_ascii_in_angle_brackets_for_campaign_and_test_emails(db, db_url, tmp_path, smtp, gw):
    """A real provider's unsubscribe page is long: the header stays a link a mail client
    reads (no RFC 2047 encoded-word), folded only at the space before it (issue #20)."""
    import dataclasses

    from core import testsend

    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, email={"unsubscribe_url": LONG_URL})
    (login,) = config.users
    staff = dataclasses.replace(config.users[login], email="mlaval@clinic.example")
    config = dataclasses.replace(config, users={login: staff})
    ctx, _clock = ctx_at(config, T0)
    add_patients(1, 1000, language="fr")
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["1000"])
    recipients.start(ctx, c.id)
    testsend.send_test(ctx, c.id, "1000")
    with Dispatcher(config, clock=_clock) as d:
        assert d.run_once().sent == 2
    token = UnsubscribeToken.get().token
    expected = {
        "mlaval@clinic.example": f"<{LONG_URL}/test-",
        Patient.get().email: f"<{LONG_URL}/{token}>",
    }
    for m in smtp.messages:
        head = m.data.split(b"\r\n\r\n", 1)[0]
        i = head.index(b"\r\nList-Unsubscribe:")
        line = head[i + 2 :].split(b"\r\nList-Unsubscribe-Post")[0].split(b"\r\nContent-Type")[0]
        # the name, then the link alone on a continuation line: folded at a space, not encoded
        name, link = line.split(b"\r\n")
        assert b"=?" not in line
        assert name == b"List-Unsubscribe:" and link.startswith(b" <") and link.endswith(b">")
        assert link.strip().decode("ascii").startswith(expected[m.rcpt_tos[0]])
        assert all(len(x) <= 998 for x in head.split(b"\r\n"))
        assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head + b"\r\n"
        assert str(m.message["List-Unsubscribe"]).strip().startswith(expected[m.rcpt_tos[0]])
