"""The hand-over's verdicts that the dispatcher tests did not reach (core.delivery.handover,
issue #22's mutation run): a row already handed over as many times as allowed fails
saying so, an opt-out that arrives after the claim is caught with its day and source
(the reason staff read), and an unpublish for an account gone is done without a call."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from helpers import add_patients, ctx_at, statements
from servers import delivery_config
from test_campaigns import TPL

from core import campaigns, reasons, recipients
from core.db import write_transaction
from core.delivery import Dispatcher, store
from core.delivery.handover import hand_over
from core.delivery.kinds import Job
from core.delivery.results import Guard, Result, record
from core.enums import DeliveryKind, DeliveryState
from core.models import Campaign, Delivery, Invitation, OptOut, Patient, Recipient, UnsubscribeToken

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday


@pytest.fixture(autouse=True)
def _statements_built_here():
    """Each test here writes the hand-over's statements itself (core.delivery.store keeps
    them per process): a mutation run then knows these tests reach the consent columns."""
    store._SHAPES.clear()


@pytest.fixture
def setup(db, db_url, tmp_path, smtp, gw):
    made = []

    def make(**scheduler):
        config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, scheduler=scheduler or None)
        d = Dispatcher(config, clock=clock)
        made.append(d)
        return d

    ctx, clock = ctx_at(delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw), T0)
    yield ctx, clock, make
    for d in made:
        d.close()


def emr_of(recipient: Recipient) -> str:
    return Patient.get_by_id(recipient.patient_id).emr_id


def started_invitation(ctx, n: int) -> int:
    """An invitation to n new patients (EMR 1000, 1001, …), started: its id."""
    add_patients(n)
    c = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, c.id, [str(1000 + i) for i in range(n)])
    recipients.start(ctx, c.id)
    return c.id


def claimed_email(d: Dispatcher, campaign_id: int, clock, worker: str = "a") -> Job:
    """The next due email, claimed by `worker` and made a job of `d`'s email handler."""
    rows = store.claim(worker, clock(), 60, 1, (DeliveryKind.EMAIL,))
    return Job(d.handler(DeliveryKind.EMAIL), Campaign.get_by_id(campaign_id), rows, {})


def test_a_row_handed_over_as_often_as_allowed_fails_saying_so(setup, smtp):
    """Dispatchers that died after handing it over, again and again: the next hand-over
    gives up instead of sending it a fourth time."""
    ctx, _clock, make = setup
    started_invitation(ctx, 2)
    tired = Delivery.get(Delivery.recipient == Recipient.get(Recipient.patient == Patient.get(emr_id="1000")))
    Delivery.update(attempts=3).where(Delivery.id == tired.id).execute()
    make(max_attempts=3).run_once()
    d = Delivery.get_by_id(tired.id)
    assert (d.status, d.error_code, d.last_error, d.attempts) == (
        DeliveryState.FAILED,
        "send_error",
        "gave up after 3 attempts",
        3,  # failed at the hand-over: not handed over a fourth time
    )
    r = Recipient.get_by_id(d.recipient_id)
    assert (r.status, r.reason_code, r.reason) == ("failed", "send_error", "gave up after 3 attempts")
    assert [m.rcpt_tos[0] for m in smtp.messages] == ["p1001@example.org"]  # the other one went


def test_an_opt_out_after_the_claim_is_caught_with_its_day_and_source(setup, smtp):
    """An opt-out recorded after the dispatcher claimed the row (no cancel reached it):
    the hand-over skips it, and staff read when and how the patient opted out."""
    ctx, _clock, make = setup
    started_invitation(ctx, 2)
    p = Patient.get(emr_id="1001")
    OptOut.create(patient=p, channel="email", source="link", at=datetime(2026, 3, 1, 20), day=date(2026, 3, 1))
    make().run_once()
    got = {emr_of(r): (r.status, r.reason_code, r.reason) for r in Recipient.select()}
    assert got == {"1000": ("sent", "", ""), "1001": ("skipped", "opted_out_email", "2026-03-01|link")}
    d = Delivery.get(Delivery.recipient == Recipient.get(Recipient.patient == p))
    assert (d.status, d.error_code, d.last_error) == (DeliveryState.SKIPPED, "opted_out_email", "2026-03-01|link")
    assert reasons.describe("opted_out_email", "2026-03-01|link", "en") == (
        "opted out of email on 2026-03-01 (unsubscribe link)"
    )
    assert [m.rcpt_tos[0] for m in smtp.messages] == ["p1000@example.org"]


def test_an_unpublish_for_an_app_account_gone_is_done_without_a_call(setup, gw):
    ctx, _clock, make = setup
    add_patients(2, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Vaccins", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    d = make()
    d.run_once()
    assert gw.audience(b.uuid) == {"a-1000", "a-1001"}
    Patient.update(app_id=None).where(Patient.emr_id == "1001").execute()  # the account was deleted
    recipients.remove(ctx, b.id, "1001")
    d.run_once()
    assert gw.calls("DELETE") == []  # nothing to hide from an account that is gone
    un = Delivery.get(Delivery.kind == DeliveryKind.UNPUBLISH)
    assert (un.status, un.error_code, un.attempts) == (DeliveryState.SENT, "", 0)


def test_an_email_names_the_patient_as_the_directory_has_them_now(setup, smtp):
    """The To: line and the template's patient fields are read at the hand-over: a name
    half empty is left empty (never a placeholder), a language unknown stays unknown."""
    from core import templating

    ctx, _clock, make = setup
    add_patients(1, 1000)
    add_patients(1, 1001, last_name="")
    add_patients(1, 1002, first_name="", language="")
    templates = {
        lang: {**fields, "body": fields["body"] + "\n\n[{{ patient.first_name }}|{{ patient.last_name }}|"
               "{{ patient.language }}]"}
        for lang, fields in templating.DEFAULT_INVITATION.items()
    }  # fmt: skip
    c = campaigns.create(ctx, "invitation", "Invite", templates=templates)
    recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
    recipients.start(ctx, c.id)
    Patient.update(last_name="Roy").where(Patient.emr_id == "1000").execute()  # changed since the start
    make().run_once()
    got = {m.rcpt_tos[0]: (m.message["To"], m.part("plain").split("[")[-1].split("]")[0]) for m in smtp.messages}
    assert got == {
        "p1000@example.org": ("Prénom1000 Roy <p1000@example.org>", "Prénom1000|Roy|fr"),
        "p1001@example.org": ("Prénom1001 <p1001@example.org>", "Prénom1001||fr"),
        "p1002@example.org": ("Tremblay <p1002@example.org>", "|Tremblay|"),
    }


# --- between the claim and the hand-over, straight through core.delivery.handover -------


def _live_broadcast(ctx, n: int = 3):
    add_patients(n, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Vaccins", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, [str(i) for i in range(1000, 1000 + n)])
    # the broadcast is on the gateway already: its recipients' publish rows may be claimed
    Delivery.update(status=DeliveryState.SENT).where(Delivery.kind == DeliveryKind.PUT).execute()
    return Campaign.get_by_id(b.id)


def _handed(job) -> list[str]:
    return sorted(emr_of(Recipient.get_by_id(r.recipient_id)) for r in job.handed)


def test_a_row_removed_after_the_claim_is_left_out_and_the_rest_of_its_batch_goes(setup):
    ctx, clock, make = setup
    b = _live_broadcast(ctx)
    d = make()
    rows = store.claim("a", clock(), 60, 10, (DeliveryKind.PUBLISH,))
    assert len(rows) == 3
    recipients.remove(ctx, b.id, "1001")  # cancels its claimed row (not handed over yet)
    job = Job(d.handler(DeliveryKind.PUBLISH), b, rows, {})
    assert hand_over([job], clock(), "https://app.example", 5) == []
    assert _handed(job) == ["1000", "1002"]
    gone = Delivery.get(Delivery.recipient == Recipient.get(Recipient.patient == Patient.get(emr_id="1001")))
    assert (gone.status, gone.handed_at, gone.attempts) == (DeliveryState.CANCELLED, None, 0)


def test_rows_another_dispatcher_claimed_again_are_handed_over_once(setup):
    """A dispatcher that stalled past its lease: another claimed its rows; only the
    newer claim hands them over."""
    ctx, clock, make = setup
    b = _live_broadcast(ctx)
    d = make()
    mine = store.claim("a", clock(), 30, 10, (DeliveryKind.PUBLISH,))
    clock.advance(seconds=31)
    theirs = store.claim("b", clock(), 30, 10, (DeliveryKind.PUBLISH,))
    assert sorted(r.id for r in theirs) == sorted(r.id for r in mine)
    late = Job(d.handler(DeliveryKind.PUBLISH), b, mine, {})
    assert hand_over([late], clock(), "https://app.example", 5) == [] and late.handed == []
    on_time = Job(d.handler(DeliveryKind.PUBLISH), b, theirs, {})
    hand_over([on_time], clock(), "https://app.example", 5)
    assert _handed(on_time) == ["1000", "1001", "1002"]
    assert {x.attempts for x in Delivery.select().where(Delivery.kind == DeliveryKind.PUBLISH)} == {1}


def test_push_turned_off_is_still_shown_in_the_feed(setup, gw):
    """The feed's consent rules decide a publish, not the push's: a patient who turned
    push off still sees the broadcast (the push alone is skipped, at its own hand-over)."""
    ctx, _clock, make = setup
    add_patients(1, 1000, app_id="a-1000")
    add_patients(1, 1001, app_id="a-1001", push_enabled=False)
    b = campaigns.create(ctx, "broadcast", "Vaccins", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    make().run_once()
    assert gw.audience(b.uuid) == {"a-1000", "a-1001"}


def test_a_row_given_up_is_read_in_french_and_stays_english_for_scripts(setup, smtp):
    """The detail stays the spec's English in the database and --json; staff read it in
    their language (core.reasons.said)."""
    from core import i18n

    ctx, _clock, make = setup
    started_invitation(ctx, 1)
    Delivery.update(attempts=3).execute()
    make(max_attempts=3).run_once()
    r = Recipient.get()
    assert reasons.describe(r.reason_code, r.reason, "en") == "gave up after 3 attempts"
    i18n.use("fr")
    assert reasons.describe(r.reason_code, r.reason) == "abandon après 3 tentatives"


# a value for each placeholder a Detail has
_VALUES = {
    "error": "connection refused",  # core.oserrors' words, translated inside the sentence too
    "why": "permission denied",
    "seconds": "30",
    "n": "3",
    "to": "p1000@example.org",
    "path": "/var/spool/clinicast",
    "kind": "ReadError",
    "status": "502 Bad Gateway",
    "text": "upstream down",
    "where": "127.0.0.1:2525",
    "user": "'clinique'",
    "answer": "550 5.1.1 unknown",
    "sender": "no-reply@example.org",
    "address": "p1000@example.org",
    "key": "email.password_file",  # a secret's setting (core.config.secrets)
    "name": "CLINICAST_SMTP_PASSWORD",
    "login": "clinicast",
    "group": "clinicast",
    "folder": "/etc/clinicast",
    "security": "starttls",
}


@pytest.mark.parametrize("name", [k for k in vars(reasons.Detail) if k.isupper()])
def test_every_detail_clinicast_writes_is_read_in_french(name):
    """Each detail clinicast writes (stored in English) is known back from its text and
    said in French, a system error's words inside it too; in English it is as stored."""
    import re

    from core import i18n

    msgid = getattr(reasons.Detail, name)
    stored = reasons.detail(msgid, **{k: _VALUES[k] for k in re.findall(r"\{(\w+)\}", msgid)})
    assert reasons.said(stored, "en") == stored
    french = reasons.said(stored, "fr")
    assert french != stored, f"{name}: not said in French: {stored!r}"
    assert "connection refused" not in french and "permission denied" not in french, french
    i18n.use("fr")
    assert reasons.describe("send_error", stored) == french


def test_an_smtp_server_that_is_not_there_is_read_in_french(db, db_url, tmp_path):
    """A real connection refused (a loopback port nobody listens on): the recipient's
    reason, as staff read it in French, has no English left in it."""
    import socket

    from core import i18n

    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = {"transport": "smtp", "host": "127.0.0.1", "port": port, "security": "none"}
    smtp["unsubscribe_url"] = "https://app.example.org/unsubscribe"
    config = delivery_config(db_url, tmp_path, email=smtp)
    ctx, _clock = ctx_at(config, T0)
    started_invitation(ctx, 1)
    with Dispatcher(config, clock=lambda: T0) as d:
        d.run_once()
    r = Recipient.get()
    assert r.reason == f"cannot connect to SMTP server 127.0.0.1:{port}: connection refused", r.reason
    i18n.use("fr")
    assert reasons.describe(r.reason_code, r.reason) == (
        f"impossible de se connecter au serveur SMTP 127.0.0.1:{port}\u00a0: connexion refusée"
    )


def test_an_answer_and_the_next_hand_over_cost_few_statements(setup, db_url):
    """Issue #21: the pipeline writes an email's answer in the transaction that hands the
    next one over. Counted statement by statement: no savepoint (both join the
    transaction), one fresh read, and on PostgreSQL the hand-over's three writes (the
    handed mark, the invitation, the unsubscribe token) are one statement."""
    ctx, clock, make = setup
    cid = started_invitation(ctx, 2)
    d = make()
    first = claimed_email(d, cid, clock)
    hand_over([first], clock(), "https://app.example", 5)
    nxt = claimed_email(d, cid, clock)
    with statements() as seen, write_transaction():
        written = record([Result(first.handed[0], DeliveryState.SENT)], clock(), Guard.HANDOVER)
        hand_over([nxt], clock(), "https://app.example", 5)
    assert written == {DeliveryState.SENT: 1}
    (row,) = nxt.handed
    fresh = nxt.fresh[row.id]
    assert fresh.invitation is not None and fresh.invitation.code == Invitation.get(Invitation.delivery == row.id).code
    assert fresh.unsubscribe == UnsubscribeToken.get(UnsubscribeToken.patient == fresh.patient_id).token
    assert not [s for s in seen if "SAVEPOINT" in s.upper()], seen
    # PostgreSQL: the answer (and its recipient), the fresh read, the hand-over's writes.
    # SQLite: the answer, its recipient, the fresh read, the mark, the invitation, the token
    assert len(seen) == (6 if db_url.startswith("sqlite") else 3), seen


def test_two_claims_handed_over_together_are_one_write_on_postgresql(setup, db_url):
    """Issue #21: the SMTP connections' next emails, joined in one hand-over, often come
    from two claims. Both are marked handed over and get their invitation and unsubscribe
    token; on PostgreSQL the fresh read and one statement for all their writes."""
    ctx, clock, make = setup
    cid = started_invitation(ctx, 2)
    d = make()
    jobs = [claimed_email(d, cid, clock, f"d{n}") for n in range(2)]
    assert len({job.rows[0].token for job in jobs}) == 2
    with statements() as seen, write_transaction():
        hand_over(jobs, clock(), "https://app.example", 5)
    for job in jobs:
        (row,) = job.handed
        fresh = job.fresh[row.id]
        assert fresh.invitation.code == Invitation.get(Invitation.delivery == row.id).code
        assert fresh.unsubscribe == UnsubscribeToken.get(UnsubscribeToken.patient == fresh.patient_id).token
        assert Delivery.get_by_id(row.id).handed_token == row.token
    # SQLite: the fresh read, a mark a claim, the invitations, the tokens
    assert len(seen) == (5 if db_url.startswith("sqlite") else 2), seen


def test_giving_up_after_one_attempt_agrees_with_its_count(tmp_path):
    """« abandon après 1 tentatives »: the count is said with the form that agrees with
    it; what is stored (and what rows already hold) stays the plural English."""
    from helpers import speaking_french

    stored = reasons.detail(reasons.Detail.GAVE_UP, n=1)
    assert stored == "gave up after 1 attempts"  # as rows already hold it
    assert reasons.describe("send_error", stored, "en") == "gave up after 1 attempt"
    assert reasons.describe("send_error", "gave up after 3 attempts", "en") == "gave up after 3 attempts"
    french = {
        ("gave up after {n} attempt", "gave up after {n} attempts"): (
            "abandon après {n} tentative",
            "abandon après {n} tentatives",
        )
    }
    with speaking_french(tmp_path, french):
        assert reasons.describe("send_error", stored) == "abandon après 1 tentative"
        assert reasons.describe("send_error", "gave up after 2 attempts") == "abandon après 2 tentatives"
