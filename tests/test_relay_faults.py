"""A hosted relay's faults a clinic meets (SPEC §5: the channel's health is not the
patient's failure; a relay's pace): a real aiosmtpd relay refusing connections or
recipients for its rate limit. No patient fails for it, each gets exactly one email
once the relay accepts again, and `status` says why emails wait."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from helpers import status_counts
from servers import delivery_config
from test_channel_health import T0, run, started

from core import channel_health
from core.delivery import Dispatcher
from core.models import Delivery

EACH_ONCE = {f"p{i}@example.org": 1 for i in (1000, 1001, 1002)}


def emailed(smtp) -> Counter:
    return Counter(m.rcpt_tos[0] for m in smtp.messages)


@pytest.mark.parametrize(
    "answer",
    [
        "421 4.7.0 Too many connections from your IP, try again later",
        "421 4.3.2 Service not available, closing transmission channel",
    ],
)
def test_a_relay_refusing_connections_for_an_hour_fails_no_patient(db, db_url, tmp_path, smtp, answer):
    config = delivery_config(db_url, tmp_path, smtp=smtp)  # max_attempts 4, backoff ≤ 4 s
    ctx, clock, c = started(config)
    smtp.greeting = answer
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        [p] = channel_health.problems()
        assert p.channel == "email" and answer[:3] in p.detail
        run(d, clock, 61, rounds=60)  # an hour of refusals
        assert smtp.messages == [] and status_counts(c.id).get("failed") is None
        assert any(answer[4:] in line for line in channel_health.lines(config))
        smtp.greeting = ""
        run(d, clock, 61, rounds=3)
    assert status_counts(c.id) == {"sent": 3} and emailed(smtp) == EACH_ONCE
    handed = [(x.attempts, x.last_error) for x in Delivery.select()]
    assert handed == [(1, "")] * 3, "a refused connection is no attempt"
    assert channel_health.problems() == []


@pytest.mark.parametrize(
    "answer",
    [
        "rcpt 452 4.5.3 Too many recipients, daily limit reached",
        "rcpt 452 4.7.1 Message rate limit exceeded, try again in 10 minutes",
    ],
)
def test_a_relay_throttling_recipients_mid_campaign_fails_no_patient(db, db_url, tmp_path, smtp, answer):
    config = delivery_config(db_url, tmp_path, smtp=smtp, email={"concurrency": 1})
    ctx, clock, c = started(config)
    smtp.faults.extend([answer] * 100)  # every patient refused, again and again
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        [p] = channel_health.problems()
        assert p.problem == "slow_down" and (p.until - T0).total_seconds() >= 60
        run(d, clock, 61, rounds=30)
        assert status_counts(c.id).get("failed") is None
        smtp.faults.clear()
        run(d, clock, 601, rounds=3)
    assert status_counts(c.id) == {"sent": 3} and emailed(smtp) == EACH_ONCE
    assert all(x.attempts == 1 for x in Delivery.select())


def test_a_gateway_finding_a_batch_too_large_fails_no_patient(db, db_url, tmp_path, gw):
    """A gateway (or its proxy) that takes 2 app ids a request, not the contract's 500:
    its 413 is about the batch, so the batch goes again in halves; each patient is shown
    the broadcast and pushed once, none failed."""
    config = delivery_config(db_url, tmp_path, gateway=gw)
    gw.max_ids = 2
    ctx, clock, c = started(config, "gateway", n=7)
    with Dispatcher(config, clock=clock) as d:
        run(d, clock, 61, rounds=3)
    everyone = {f"a-{i}" for i in range(1000, 1007)}
    assert status_counts(c.id) == {"sent": 7}
    assert gw.audience(c.uuid) == everyone
    assert Counter(p["app_id"] for p in gw.pushes) == dict.fromkeys(everyone, 1)
    assert all(x.attempts == 1 for x in Delivery.select())
    too_large = [r for r in gw.requests if r.status == 413]
    assert too_large and all(len(r.body["app_ids"]) > 2 for r in too_large)


@pytest.mark.parametrize(
    "answer",
    [
        "rcpt 554 5.7.1 <p1000@example.org>: Relay access denied",
        "rcpt 550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
    ],
)
def test_a_relay_that_will_not_relay_for_us_pauses_email_not_the_patients(db, db_url, tmp_path, smtp, answer):
    """A relay refusing every recipient because it will not relay for this clinic (not
    logged in, this host not allowed) is the clinic's setup: email pauses saying what
    to check; once the relay accepts, each patient gets one email."""
    config = delivery_config(db_url, tmp_path, smtp=smtp, email={"concurrency": 1})
    ctx, clock, c = started(config)
    smtp.faults.extend([answer] * 100)  # every recipient refused while it lasts
    with Dispatcher(config, clock=clock) as d:
        run(d, clock, 61, rounds=10)
        [p] = channel_health.problems()
        assert p.problem == "smtp_sender" and status_counts(c.id).get("failed") is None
        [line] = channel_health.lines(config)
        assert "check [email] from, username and security" in line and answer[5:20] in line
        smtp.faults.clear()
        run(d, clock, 61, rounds=2)
    assert status_counts(c.id) == {"sent": 3} and emailed(smtp) == EACH_ONCE
    assert all(x.attempts == 1 for x in Delivery.select())


@pytest.mark.parametrize(
    ("server", "auth", "wrong", "problem", "said"),
    [
        # a username, and security "none" to a relay that offers AUTH only after STARTTLS
        (
            "starttls",
            ("clinique", "secret"),
            "none",
            "smtp_no_auth",
            'email.security = "none": check email.security and email.port',
        ),
        # implicit TLS to port 587, which greets in plain text
        ("starttls", None, "tls", "smtp_security", 'for port 587 or 25 set email.security = "starttls"'),
        # STARTTLS to an implicit TLS port (465), which waits for our TLS before it greets:
        # every connection timed out ("Connection unexpectedly closed: timed out") and each
        # patient failed after its retries; the port is seen to speak TLS
        ("tls", None, "starttls", "smtp_security", 'implicit TLS port (as 465 is), and email.security = "starttls"'),
    ],
)
def test_a_security_that_does_not_match_the_relay_pauses_email_and_says_what_to_set(
    db, db_url, tmp_path, server, auth, wrong, problem, said
):
    """[email] security that does not match the relay's port (587: STARTTLS, 465:
    implicit TLS) is the clinic's setup: email pauses saying what to set, no patient
    fails, no attempt counted; once security is the port's each patient gets one email."""
    from servers import SmtpServer, cert_files

    with SmtpServer(security=server, auth=auth) as smtp:
        ca = cert_files()[0]
        email = {"security": wrong, "ca_file": ca, "timeout_seconds": 1.0}
        config = delivery_config(db_url, tmp_path, smtp=smtp, email=email)
        ctx, clock, c = started(config)
        with Dispatcher(config, clock=clock) as d:
            run(d, clock, 61, rounds=6)
            [p] = channel_health.problems()
            assert p.problem == problem and status_counts(c.id) == {"queued": 3}
            [line] = channel_health.lines(config)
            assert said in line
        assert smtp.messages == []
        fixed = delivery_config(db_url, tmp_path, smtp=smtp, email={**email, "security": server})
        with Dispatcher(fixed, clock=clock) as d:
            run(d, clock, 61, rounds=2)
        assert status_counts(c.id) == {"sent": 3} and emailed(smtp) == EACH_ONCE
    assert all(x.attempts == 1 for x in Delivery.select())


@pytest.mark.parametrize(
    ("where", "answer", "wait"),
    [
        ("rcpt", "550 5.4.5 Daily user sending limit exceeded. For more information, see support", 3600),
        ("mail", "550 5.4.5 Daily sending quota exceeded", 3600),
        ("data", "451 4.4.5 Sending quota exceeded for this account, try again in 20 minutes", 1200),
        ("rcpt", "452 4.4.5 Insufficient system resources", 60),
    ],
)
def test_a_relay_s_daily_sending_limit_pauses_email_not_the_patients(db, db_url, tmp_path, smtp, where, answer, wait):
    """A hosted relay's sending limit (RFC 3463 X.4.5, Google's "550 5.4.5 Daily user
    sending limit exceeded") is about the clinic's account, whoever the recipient: every
    patient failed at once. Now email pauses for the wait it names (else an hour for a
    5xx), status says the limit and [email] max_per_day, and once the relay takes mail
    again each patient gets one email, no attempt counted."""
    config = delivery_config(db_url, tmp_path, smtp=smtp, email={"concurrency": 1})
    ctx, clock, c = started(config)

    def refuse(on: bool) -> None:
        if where == "mail":
            smtp.refuse_from = answer if on else ""
        else:
            smtp.faults[:] = [f"rcpt {answer}" if where == "rcpt" else answer] * 100 if on else []

    refuse(True)
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        [p] = channel_health.problems()
        assert p.problem == "smtp_limit" and (p.until - T0).total_seconds() >= wait
        [line] = channel_health.lines(config)
        assert "sending limit (often a daily one) is reached" in line and "set [email] max_per_day under it" in line
        assert answer[4:9] in line
        run(d, clock, wait / 4, rounds=12)  # three times its wait refused
        assert smtp.messages == [] and status_counts(c.id) == {"queued": 3}
        refuse(False)
        run(d, clock, wait + 1, rounds=2)
    assert status_counts(c.id) == {"sent": 3} and emailed(smtp) == EACH_ONCE
    assert all(x.attempts == 1 for x in Delivery.select())
    assert channel_health.problems() == []


@pytest.mark.parametrize(
    ("answer", "status"),
    [("rcpt 552 5.2.2 Mailbox full, quota exceeded", "failed"), ("rcpt 452 4.2.2 Mailbox over quota", "retrying")],
)
def test_a_full_mailbox_is_the_recipient_s_whatever_it_says_of_quotas(db, db_url, tmp_path, smtp, answer, status):
    """X.2.2 (mailbox full) speaks of quotas and limits too, but it is one recipient's:
    the others are emailed, email is not paused."""
    config = delivery_config(db_url, tmp_path, smtp=smtp, email={"concurrency": 1})
    ctx, clock, c = started(config)
    smtp.faults.append(answer)  # the first recipient's mailbox
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        assert channel_health.problems() == []
    counts = status_counts(c.id)
    assert counts == {"sent": 2, status: 1}, counts
    assert len(smtp.messages) == 2


@pytest.mark.parametrize(
    ("security", "port", "said"),
    [
        ("starttls", 465, "email.port = 465 is the implicit TLS port: the server waits for TLS before it greets"),
        ("none", 465, 'email.security = "none" waits for its greeting; set email.security = "tls"'),
        ("tls", 587, 'email.port = 587 greets in plain text, then offers STARTTLS: email.security = "tls"'),
        ("tls", 25, 'set email.security = "starttls" (or email.port = 465)'),
    ],
)
def test_config_check_says_a_security_that_does_not_match_its_port(db_url, tmp_path, security, port, said):
    """`config check` said "ok" for security = "starttls" with port 465: the first sign
    was every patient's 'timed out'. It now warns, naming the setting to change."""
    from click.testing import CliRunner

    from cli import cli

    def check(security: str, port: int) -> str:
        email = {"transport": "smtp", "host": "smtp.example.org", "port": port, "security": security}
        email["unsubscribe_url"] = "https://app.example.org/unsubscribe"
        path = delivery_config(db_url, tmp_path, email=email, as_toml=True)
        res = CliRunner().invoke(cli, ["config", "check", "--config", str(path)], obj={})
        assert "Traceback" not in res.output, res.output
        return res.stdout

    assert said in check(security, port)
    assert f"warning: email.port = {port}" in check(security, port)
    matching = "tls" if port == 465 else "starttls"
    assert "email.port =" not in check(matching, port)


@pytest.mark.parametrize(
    ("where", "answer"),
    [
        ("mail", "421 4.7.0 mx.example.org too many messages in this connection"),  # Exim
        ("mail", "421 4.3.2 Service not available, closing transmission channel"),  # Exchange
        ("rcpt", "421 4.7.0 Too many messages in this session, closing connection"),
    ],
)
def test_a_relay_s_messages_per_connection_limit_is_a_new_connection_not_a_pause(db, db_url, tmp_path, where, answer):
    """A relay takes 10 messages a connection, then answers 421 (closing, RFC 5321 §3.8)
    at MAIL FROM or RCPT TO: nothing of that message was accepted. The connection is
    replaced and the message goes on the new one at once: each of 30 patients gets one
    email, no attempt counted, email never paused."""
    from servers import SmtpServer

    with SmtpServer(close_every=10, close_answer=answer, close_at=where) as smtp:
        config = delivery_config(db_url, tmp_path, smtp=smtp)
        ctx, clock, c = started(config, n=30)
        t0 = time.monotonic()
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            took = time.monotonic() - t0
            assert channel_health.problems() == []
            run(d, clock, 1, rounds=2)  # what a pause or an attempt would have left
    assert status_counts(c.id) == {"sent": 30}
    assert emailed(smtp) == {f"p{i}@example.org": 1 for i in range(1000, 1030)}
    assert all(x.attempts == 1 and x.last_error == "" for x in Delivery.select())
    assert smtp.fault_log.count("421 after close_every") >= 2 and smtp.connections >= 3
    assert took < 10, f"{took:.1f} s for 30 emails"


@pytest.mark.parametrize(
    "answer",
    [
        "mail 421 4.7.0 Too many messages from your IP, try again later",
        "rcpt 421 4.7.0 Too many messages in this session, closing connection",
    ],
)
def test_a_421_to_a_fresh_connection_s_first_message_pauses_email(db, db_url, tmp_path, smtp, answer):
    """A 421 to the first message of a new connection is no limit reached: the relay
    refuses us. Email pauses (a 421 at MAIL FROM counted an attempt against the patient);
    once the relay takes mail, each patient gets one email."""
    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx, clock, c = started(config)
    where, said = answer.split(" ", 1)

    def refuse(on: bool) -> None:
        if where == "mail":
            smtp.refuse_from = said if on else ""
        else:
            smtp.faults[:] = [answer] * 100 if on else []

    refuse(True)
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        [p] = channel_health.problems()
        assert p.problem == "slow_down" and said in p.detail
        assert smtp.messages == [] and status_counts(c.id) == {"queued": 3}
        refuse(False)
        run(d, clock, 61, rounds=2)
    assert status_counts(c.id) == {"sent": 3} and emailed(smtp) == EACH_ONCE
    assert all(x.attempts == 1 for x in Delivery.select())


@pytest.mark.parametrize("where", ["mail", "rcpt"])
def test_a_relay_closing_every_connection_after_one_message_pauses_email(db, db_url, tmp_path, where):
    """A relay that answers 421 to every connection's second message is not a limit a new
    connection gets round: after a few connections replaced at once, email pauses (no
    endless reconnecting), no message goes twice and no patient fails; once the relay
    takes more, each patient gets one email."""
    from servers import SmtpServer

    answer = "421 4.3.2 Service not available, closing transmission channel"
    with SmtpServer(close_every=1, close_answer=answer, close_at=where) as smtp:
        config = delivery_config(db_url, tmp_path, smtp=smtp, email={"concurrency": 1})
        ctx, clock, c = started(config, n=10)
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            [p] = channel_health.problems()
            assert p.problem == "slow_down" and answer in p.detail
            first = len(smtp.messages)
            assert 1 < first < 10 and smtp.connections == first
            run(d, clock, 61)
            assert len(smtp.messages) < 10 and status_counts(c.id).get("failed") is None
            smtp.close_every = 0
            run(d, clock, 61, rounds=2)
    assert status_counts(c.id) == {"sent": 10}
    assert emailed(smtp) == {f"p{i}@example.org": 1 for i in range(1000, 1010)}
    assert all(x.attempts == 1 for x in Delivery.select())
