"""The channels' health (issue #20, SPEC §5): a token or a login refused pauses the
channel, not the patients. A real loopback gateway refuses the token, a real aiosmtpd
server the login, until the administrator fixes the secret's file: then every eligible
patient gets exactly one message, with no staff action, and meanwhile the log, `status`
and the TUI's status line said what was wrong, since when, and what to fix."""

from __future__ import annotations

import importlib
import logging
import os
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import add_patients, ctx_at, status_counts
from servers import SmtpServer, delivery_config
from test_dispatch import TPL

from core import campaigns, channel_health, pace, recipients, status
from core.delivery import Dispatcher
from core.models import ChannelHealth, Delivery, Recipient, database

T0 = datetime(2026, 3, 2, 19, 2, 0)  # 14:02 in Toronto, a Monday


def secret_file(tmp_path, name: str, value: str):
    path = tmp_path / name
    path.write_text(value + "\n")
    os.chmod(path, 0o600)
    return path


def broadcast(ctx):
    return campaigns.create(ctx, "broadcast", "Vaccins", date(2026, 3, 1), date(2026, 3, 20), templates=TPL)


def run(d, clock, seconds: float, rounds: int = 1):
    for _ in range(rounds):
        clock.advance(seconds=seconds)
        d.run_once()


def started(config, channel: str = "email", n: int = 3):
    """The clinic at T0, `n` patients (1000, 1001, …) on one started campaign of `channel`:
    a broadcast pushed to their app accounts (a-1000, …) for "gateway", an invitation by
    email (p1000@example.org, …) for "email". Returns (ctx, clock, campaign)."""
    ctx, clock = ctx_at(config, T0)
    if channel == "gateway":
        add_patients(n, app_id=lambda i: f"a-{i}")
        c = broadcast(ctx)
    else:
        add_patients(n)
        c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, [str(1000 + i) for i in range(n)])
    recipients.start(ctx, c.id)
    return ctx, clock, c


def run_until_sent(d, clock, campaign_id: int, tries: int, n: int = 3) -> None:
    """A pass a minute until the campaign's `n` recipients are sent (at most `tries`)."""
    for _ in range(tries):
        run(d, clock, 61)
        if status_counts(campaign_id) == {"sent": n}:
            break


def emailed(smtp) -> Counter:
    return Counter(m.rcpt_tos[0] for m in smtp.messages)


def pushed(gw) -> Counter:
    return Counter(p["app_id"] for p in gw.pushes)


EACH_EMAILED_ONCE = {f"p{i}@example.org": 1 for i in (1000, 1001, 1002)}
EACH_PUSHED_ONCE = {"a-1000": 1, "a-1001": 1, "a-1002": 1}


def test_a_refused_token_pauses_the_gateway_until_the_file_is_fixed(db, db_url, tmp_path, gw, caplog):
    token = secret_file(tmp_path, "gateway.token", "mistyped-by-the-admin")
    config = delivery_config(db_url, tmp_path, gateway=gw, gw={"token_env": "", "token_file": str(token)})
    ctx, clock, b = started(config, "gateway")
    caplog.set_level(logging.INFO, logger="clinicast.dispatch")
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        # the gateway said 401: nobody failed, no attempt counted, the channel is paused
        assert [r.status for r in gw.requests] == [401]
        assert "failed" not in status_counts(b.id)
        assert all(x.attempts == 0 for x in Delivery.select())
        [p] = channel_health.problems()
        assert (p.channel, p.problem) == ("gateway", "gateway_token")
        said = f"the gateway refuses our token since 14:02: check {token}"
        assert channel_health.describe(p, config, clock()) == said
        assert said in status.sending_line(config, clock())
        overview = status.overview(ctx)
        assert overview["channels"][0]["message"] == said
        assert said in status.format_overview(overview, ZoneInfo("America/Toronto"))
        assert any("event=channel_paused" in m and "gateway_token" in m for m in caplog.messages)

        # while paused, nobody asks the gateway again; at the next try the token is read
        # again (still wrong): the same problem, the same "since"
        run(d, clock, 30)
        assert len(gw.requests) == 1
        run(d, clock, 31)
        assert [r.status for r in gw.requests] == [401, 401]
        assert channel_health.problems()[0].since == T0

        # the administrator fixes the file; within a minute the channel resumes by itself
        token.write_text(gw.token + "\n")
        run_until_sent(d, clock, b.id, tries=6)
    assert status_counts(b.id) == {"sent": 3}
    assert pushed(gw) == EACH_PUSHED_ONCE, "each patient once"
    assert gw.audience(b.uuid) == {"a-1000", "a-1001", "a-1002"}
    assert channel_health.problems() == [] and "paused" not in status.sending_line(config, clock())
    assert all(x.attempts == 1 for x in Delivery.select()), "the refusals were not attempts"
    assert any("event=channel_resumed" in m for m in caplog.messages)


def test_status_names_a_paused_channel_in_the_reader_s_language(db, config):
    """`clinicast status` in French: the paused gateway's row is « passerelle », as the
    words after it say — not the code "gateway" in the middle of French lines."""
    from core import i18n

    ctx, clock = ctx_at(config, T0)
    with database.atomic():
        channel_health.note([("gateway", "gateway_token", "401", T0 + timedelta(minutes=1))], [], T0, "test")
    overview = status.overview(ctx)
    assert "\ngateway      paused: the gateway refuses our token since 14:02" in status.format_overview(
        overview, config.clinic.tz
    )
    i18n.use("fr")
    text = status.format_overview(status.overview(ctx), config.clinic.tz)
    assert "\npasserelle     en pause\u00a0: la passerelle refuse notre jeton depuis 14:02" in text, text
    assert "\ngateway" not in text, text
    assert "à envoyer maintenant, 0 prévu," in text, text  # agreed with its count (« 0 prévus » was read)
    later = status.overview(ctx)
    later["deliveries"]["scheduled"] = 2
    assert "à envoyer maintenant, 2 prévus," in status.format_overview(later, config.clinic.tz)


def test_a_refused_login_pauses_email_until_the_password_file_is_fixed(db, db_url, tmp_path):
    with SmtpServer(auth=("clinic", "s3cret")) as smtp:
        password = secret_file(tmp_path, "smtp.password", "wrong")
        config = delivery_config(
            db_url, tmp_path, smtp=smtp, email={"password_env": "", "password_file": str(password)}
        )
        ctx, clock, c = started(config)
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            assert smtp.messages == [] and status_counts(c.id) == {"queued": 3}
            assert all(x.attempts == 0 and x.status == "pending" for x in Delivery.select())
            [p] = channel_health.problems()
            said = f"the SMTP server refuses our login since 14:02: check [email] username and {password}"
            assert (p.problem, channel_health.describe(p, config, clock())) == ("smtp_login", said)
            assert said in status.sending_line(config, clock())
            # every recipient's ledger line says it waits, not that it failed
            assert {r.status for r in Recipient.select()} == {"queued"}

            password.write_text("s3cret\n")
            run_until_sent(d, clock, c.id, tries=4)
        assert status_counts(c.id) == {"sent": 3}
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [f"p{i}@example.org" for i in (1000, 1001, 1002)]
        assert smtp.logins and channel_health.problems() == []
        assert all(x.attempts == 1 for x in Delivery.select())


def test_a_paused_gateway_does_not_hold_up_email(db, db_url, tmp_path, smtp, gw):
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    ctx, clock = ctx_at(config, T0)
    gw.fail("status", status=403, count=100)
    add_patients(2, app_id=lambda i: f"a-{i}")
    add_patients(2, 2000)
    b = broadcast(ctx)
    recipients.assign_ids(ctx, b.id, ["1000", "1001"])
    recipients.start(ctx, b.id)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["2000", "2001"])
    recipients.start(ctx, c.id)
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
    assert status_counts(c.id) == {"sent": 2} and len(smtp.messages) == 2
    assert [p.channel for p in channel_health.problems()] == ["gateway"]


def test_migration_5_gives_back_what_0_2_0_failed_for_a_refused_token(db, db_url, tmp_path):
    """0.2.0 failed every recipient when the gateway refused the token: the migration
    puts them back in the queue (a patient's own failure stays failed)."""
    config = delivery_config(db_url, tmp_path)
    ctx, clock = ctx_at(config, T0)
    add_patients(3, app_id=lambda i: f"a-{i}")
    add_patients(1, 2000)
    b = broadcast(ctx)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002"])
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["2000"])
    recipients.start(ctx, c.id)
    # as 0.2.0 left them: publishes failed with the gateway's words, the email with a login refused
    words = {
        "1000": "missing or wrong bearer token",
        "1001": "gateway answered HTTP 401 Unauthorized",
        "1002": "unknown app account",
    }
    for r in Recipient.select():
        emr = r.patient.emr_id
        why = words.get(emr, "SMTP login as 'clinic' refused by relay:587: 535 5.7.8 bad credentials")
        code = "unknown_app_account" if emr == "1002" else "send_error"
        Recipient.update(status="failed", reason_code=code, reason=why if code == "send_error" else "").where(
            Recipient.id == r.id
        ).execute()
        Delivery.update(status="failed", error_code=code, last_error=why, attempts=4).where(
            Delivery.recipient == r.id
        ).execute()
    step = importlib.import_module("core.migrations.0005_channel_health")
    from playhouse.migrate import SchemaMigrator

    with database.atomic():
        step.up(SchemaMigrator.from_database(database.obj), database.obj)
    by_emr = {r.patient.emr_id: r for r in Recipient.select()}
    assert {e: r.status for e, r in by_emr.items()} == {
        "1000": "assigned",
        "1001": "assigned",
        "1002": "failed",
        "2000": "queued",
    }
    given_back = [x for x in Delivery.select() if x.recipient and x.recipient.patient.emr_id != "1002"]
    assert all((x.status, x.attempts, x.last_error) == ("pending", 0, "") for x in given_back)
    assert ChannelHealth.select().count() == 0


@pytest.mark.parametrize("answer", ["421 4.7.0 rate limit exceeded, try again in 120 seconds", "451 4.7.1 too many"])
def test_a_relay_asking_to_slow_down_pauses_email_for_the_time_asked(db, db_url, tmp_path, smtp, answer):
    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx, clock, c = started(config, n=2)
    smtp.faults.append(answer)
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        [p] = channel_health.problems()
        wait = 120 if "120" in answer else 60
        assert p.problem == "slow_down" and (p.until - T0).total_seconds() >= wait
        assert status_counts(c.id).get("failed") is None
        run(d, clock, wait - 5)
        assert len(smtp.messages) <= 1, "nothing more while paused"
        run(d, clock, 10)
    assert status_counts(c.id) == {"sent": 2} and len(smtp.messages) == 2
    assert all(x.attempts == 1 for x in Delivery.select())


# --- a relay's pace ----------------------------------------------------------------------


def windows_over(times: list[datetime], cap: int, seconds: float = 60) -> list[datetime]:
    """The arrivals that a sliding window of `seconds` holds with more than `cap`."""
    times = sorted(times)
    return [t for i, t in enumerate(times) if i >= cap and (t - times[i - cap]).total_seconds() < seconds]


def test_two_dispatchers_keep_the_relays_pace_together_and_lose_none(db, db_url, tmp_path, smtp):
    """A relay that counts arrivals: 3 a minute, 20 a day, two dispatchers sending; the
    clock moves 7 s a pass, each arrival counted at the clock of the pass that sent it."""
    config = delivery_config(db_url, tmp_path, smtp=smtp, email={"max_per_minute": 3, "max_per_day": 20})
    ctx, clock, c = started(config, n=25)
    arrivals: list[datetime] = []
    ds = [Dispatcher(config, clock=clock, name=f"d{i}") for i in range(2)]
    try:
        extra = 20  # passes after the day's cap is reached: none more that day
        while extra and clock() < T0 + timedelta(minutes=30):
            for d in ds:
                before = len(smtp.messages)
                d.run_once()
                arrivals += [clock()] * (len(smtp.messages) - before)
            clock.advance(seconds=7)
            extra -= len(arrivals) >= 20
        assert len(arrivals) == 20, "the day's cap, and the cap used: all 20 in the first minutes"
        assert max(arrivals) <= T0 + timedelta(minutes=8), "the cap used whenever there is work"
        assert windows_over(arrivals, 3) == [], "no 60 s window over the cap"
        clock.advance(hours=24)
        for d in ds:
            d.run_once()
            clock.advance(seconds=61)
        for d in ds:
            d.run_once()
    finally:
        for d in ds:
            d.close()
    rcpts = [m.rcpt_tos[0] for m in smtp.messages]
    assert len(rcpts) == 25 and len(set(rcpts)) == 25, "none twice, none lost"
    assert status_counts(c.id) == {"sent": 25}
    assert all(x.attempts == 1 for x in Delivery.select()), "waiting for the pace is no attempt"


def test_status_and_show_say_the_relays_pace_beside_the_email_channel(db, db_url, tmp_path):
    """Emails due but queued for minutes: `status` (where it shows the email channel) and
    an invitation's `campaigns show` say the relay's pace and, while a scheduler sends,
    about when the last leaves; `status --json` keeps its shape (SPEC §7's words)."""
    import json

    from click.testing import CliRunner

    from cli import cli
    from core.scheduling.heartbeat import beat

    email = {"max_per_minute": 30}
    path = delivery_config(db_url, tmp_path, email=email, as_toml=True)
    config = delivery_config(db_url, tmp_path, email=email)
    ctx, clock = ctx_at(config, T0)
    add_patients(95)
    first, second = (campaigns.create(ctx, "invitation", name) for name in ("First", "Second"))
    recipients.assign_ids(ctx, first.id, [str(i) for i in range(1000, 1050)])
    recipients.start(ctx, first.id)
    caps = "at most 30 emails a minute (the relay's limit)"
    # nobody sending: the pace, and no time that nothing would keep
    assert pace.channel_words(config, clock()) == f"{caps}; 50 emails waiting"
    beat("host:1", "daemon", clock())
    # 50 at 30 a minute: the first 30 now, the last 20 a minute later (14:03 in Toronto)
    said = f"{caps}; 50 emails waiting, the last leaves around 14:03"
    assert pace.channel_words(config, clock()) == said
    text = status.format_overview(status.overview(ctx), config.clinic.tz, pace=said)
    assert f"\nemail        {said}\n" in text, text
    # a campaign's own: its emails, after every email due before them (the first's 50)
    recipients.assign_ids(ctx, second.id, [str(i) for i in range(1050, 1095)])
    recipients.start(ctx, second.id)
    assert pace.campaign_words(config, first.id, clock()) == said
    assert pace.campaign_words(config, second.id, clock()) == f"{caps}; 45 emails waiting, the last leaves around 14:05"
    # the command lines, on the real clock (the beat at T0 is long gone: no time given)
    runner = CliRunner()
    out = runner.invoke(cli, ["status", "--config", str(path)], catch_exceptions=False).output
    assert f"\nemail        {caps}; 95 emails waiting\n" in out, out
    out = runner.invoke(cli, ["campaigns", "show", str(second.id), "--config", str(path)]).output
    assert f"\n  pace: {caps}; 45 emails waiting\n" in out, out
    french = tmp_path / "fr.toml"  # a French reader: their words, their typography
    french.write_text(path.read_text(encoding="utf-8").replace('language = "en"', 'language = "fr"'), encoding="utf-8")
    out = runner.invoke(cli, ["status", "--config", str(french)]).output
    said_fr = "\ncourriel       au plus 30 courriels par minute (limite du relais)\u202f; 95 courriels en attente\n"
    assert said_fr in out, out
    # --json: the overview as it was, cap or none
    capped = json.loads(runner.invoke(cli, ["status", "--json", "--config", str(path)]).output)
    (tmp_path / "none").mkdir()
    uncapped = delivery_config(db_url, tmp_path / "none", as_toml=True)
    plain = json.loads(runner.invoke(cli, ["status", "--json", "--config", str(uncapped)]).output)
    assert {**capped, "now": None} == {**plain, "now": None}
    out = runner.invoke(cli, ["status", "--config", str(uncapped)]).output
    assert "\nemail " not in out and "relay" not in out, out


def test_the_last_email_s_time_counts_only_sending_hours(db, db_url, tmp_path):
    """Begun ten minutes before sending hours close, 20 minutes of the relay's pace end
    the next sending day: status, show and start say that moment, not 20:10 (SPEC §11)."""
    from core.scheduling.heartbeat import beat

    hours = {"hours": "09:00-20:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
    config = delivery_config(db_url, tmp_path, email={"max_per_minute": 5}, sending=hours)
    monday_evening = datetime(2026, 3, 3, 0, 50)  # Monday 19:50 in Toronto
    ctx, clock = ctx_at(config, monday_evening)
    add_patients(100)
    c = campaigns.create(ctx, "invitation", "Late")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1100)])
    beat("host:1", "daemon", clock())  # a daemon sends them (none: no time to give)
    # 5 now, then 95 at 5 a minute: 19 minutes of sending, 10 of them on Monday
    assert recipients.start_plan(ctx, c.id).pace.endswith("the last email leaves around Mar 3, 2026, 09:09")
    recipients.start(ctx, c.id)
    said = "at most 5 emails a minute (the relay's limit); 100 emails waiting, the last leaves around "
    said += "Mar 3, 2026, 09:09"
    assert pace.channel_words(config, clock()) == said
    assert pace.campaign_words(config, c.id, clock()) == said


def test_start_says_when_the_last_email_leaves_at_the_relays_pace(db, db_url, tmp_path, smtp):
    import re

    from click.testing import CliRunner

    from cli import cli

    email = {"max_per_minute": 30, "max_per_day": 10000}
    path = delivery_config(db_url, tmp_path, smtp=smtp, email=email, as_toml=True)
    path.write_text(
        path.read_text(encoding="utf-8").replace('language = "en"', 'language = "fr"'), encoding="utf-8"
    )  # a French reader
    config = delivery_config(db_url, tmp_path, smtp=smtp, email=email)
    ctx, clock = ctx_at(config, T0)
    add_patients(95)
    first = campaigns.create(ctx, "invitation", "First")
    recipients.assign_ids(ctx, first.id, [str(i) for i in range(1000, 1050)])
    from core.models import utcnow
    from core.scheduling.heartbeat import DAEMON, beat

    beat("host:1", DAEMON, clock())  # a daemon sends them (none: no time to give)
    plan = recipients.start_plan(ctx, first.id)
    # 50 at 30 a minute: the first 30 now, the last 20 a minute later (14:03 in Toronto)
    said = "at the relay's pace (30 a minute, 10,000 a day), the last email leaves around 14:03"
    assert plan.pace == said
    assert "At the relay's pace (30 a minute, 10,000 a day), the last email leaves around 14:03" in plan.breakdown()
    recipients.start(ctx, first.id)
    # a second campaign's emails wait behind the first's 50: 95 at 30 a minute, 14:05
    second = campaigns.create(ctx, "invitation", "Second")
    recipients.assign_ids(ctx, second.id, [str(i) for i in range(1050, 1095)])
    assert recipients.start_plan(ctx, second.id).pace.endswith("around 14:05")
    # the command line says it too, in the clinic's time of day and the staff's language
    # (it runs on the real clock: with the day when the last email leaves after midnight)
    beat("host:2", DAEMON, utcnow())  # a daemon alive on the real clock
    r = CliRunner().invoke(cli, ["campaigns", "start", str(second.id), "--config", str(path)])
    assert r.exit_code == 0, r.output
    said_fr = r"^  au rythme du relais \(30 par minute, 10\u00a0000 par jour\), "
    said_fr += r"le dernier courriel part vers (.+ )?\d\d:\d\d$"
    assert re.search(said_fr, r.output, re.M), r.output


# --- an email that may have arrived twice: both times kept -----------------------------


def test_a_first_copy_whose_answer_was_lost_is_in_the_ledger_with_both_times(db, db_url, tmp_path, smtp):
    """Issue #20: the relay kept the first copy and dropped the connection before its 250;
    the second copy went through. The server counts the patient twice, and the ledger
    (list, --json, --csv), the detail panel's words and `status` say "may have been
    delivered twice" with the first copy's time and the second's."""
    import csv
    import io
    import json

    from cli import cli
    from core import exports

    email = {"unknown_outcome_retries": 1, "concurrency": 1}
    config = delivery_config(db_url, tmp_path, smtp=smtp, email=email)
    path = delivery_config(db_url, tmp_path, smtp=smtp, email=email, as_toml=True)
    path.write_text(
        path.read_text(encoding="utf-8").replace('language = "en"', 'language = "fr"'), encoding="utf-8"
    )  # a French reader
    ctx, clock, c = started(config, n=2)
    smtp.faults.append("lost-250")  # the first DATA: kept, then the connection drops before the 250
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        [twice] = [r for r in Recipient.select() if r.status == "retrying"]
        assert (twice.reason_code, twice.first_copy_at) == ("outcome_unknown", T0)
        run(d, clock, 3600)
    emr = twice.patient.emr_id
    other = "1001" if emr == "1000" else "1000"
    assert Counter(m.rcpt_tos[0] for m in smtp.messages) == {f"p{emr}@example.org": 2, f"p{other}@example.org": 1}
    second = T0 + timedelta(seconds=3600)
    r = Recipient.get_by_id(twice.id)
    assert (r.status, r.reason_code, r.first_copy_at, r.sent_at) == ("sent", "maybe_twice", T0, second)
    assert Delivery.get(Delivery.recipient == r.id).first_unknown_at == T0
    words = "may have been delivered twice: a first copy went at {} (its answer never came), the second was sent at {}"

    # the ledger as --json and --csv: both times, English keys
    rows = {x["emr_id"]: x for x in json.loads(cli_out(cli, path, "recipients", "list", str(c.id), "--json"))}
    assert (rows[emr]["status"], rows[emr]["reason"]) == ("sent", "maybe_twice")
    assert (rows[emr]["first_copy_at"], rows[emr]["sent_at"]) == ("2026-03-02T19:02:00Z", "2026-03-02T20:02:00Z")
    assert rows[emr]["reason_text"] == words.format("2026-03-02T19:02:00Z", "2026-03-02T20:02:00Z")
    assert (rows[other]["first_copy_at"], rows[other]["reason"]) == (None, "")
    ledger = exports.recipients_csv(ctx, c.id).removeprefix("\ufeff")
    table = {x["emr_id"]: x for x in csv.DictReader(io.StringIO(ledger))}
    assert (table[emr]["first_copy_at"], table[emr]["sent_at"]) == ("2026-03-02T19:02:00Z", "2026-03-02T20:02:00Z")
    assert table[other]["first_copy_at"] == ""
    # the human list says it, with both times
    [line] = [x for x in cli_out(cli, path, "recipients", "list", str(c.id)).splitlines() if f" {emr} " in f" {x} "]
    # in the clinic's time zone and the staff's language (French here: [clinic] default_language)
    assert "2 mars 2026 14:02" in line and "2 mars 2026 15:02" in line, line
    # the detail panel: the reason in full with both times in the clinic's time of day
    shown = recipients.detail(ctx, c.id, r.id, language="en")  # the command above chose French
    assert shown.reason == words.format("14:02", "15:02")
    assert (shown.first_copy_at, shown.sent_at) == (T0, second)
    assert "premier envoi à 14:02" in recipients.detail(ctx, c.id, r.id, language="fr").reason
    # and the counts of `clinicast status` (in English: the command above chose French)
    from core import i18n

    i18n.use("en")
    data = status.overview(ctx)
    assert data["recipients"]["sent"] == 2 and data["recipients_maybe_delivered_twice"] == 1
    assert "sent 2 (1 may have been delivered twice)" in status.format_overview(data, ZoneInfo("America/Toronto"))
    i18n.use("fr")
    assert "(1 a peut-être été reçu deux fois)" in status.format_overview(data, ZoneInfo("America/Toronto"))


def cli_out(cli, path, *args: str) -> str:
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, [*args, "--config", str(path)])
    assert r.exit_code == 0, r.output
    return r.output


# --- a certificate that does not verify, a sender refused: the setup, not the patients ---


def untrusted_ca_file(tmp_path):
    """A CA file that does not hold the test certificate's (real CAs only), 0644."""
    import certifi

    path = tmp_path / "clinic-ca.pem"
    path.write_bytes(open(certifi.where(), "rb").read())
    return path


def test_a_gateway_certificate_that_does_not_verify_pauses_until_it_is_trusted(db, db_url, tmp_path, caplog):
    from servers import GatewayServer, cert_files

    ca = untrusted_ca_file(tmp_path)
    with GatewayServer(token="tok", tls=True) as gw:
        config = delivery_config(db_url, tmp_path, gateway=gw, gw={"ca_file": str(ca)})
        ctx, clock, b = started(config, "gateway")
        caplog.set_level(logging.INFO, logger="clinicast.dispatch")
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            # the handshake failed: no request reached the gateway, nobody failed, no attempt
            assert gw.requests == [] and "failed" not in status_counts(b.id)
            assert all(x.attempts == 0 for x in Delivery.select())
            [p] = channel_health.problems()
            assert (p.channel, p.problem) == ("gateway", "gateway_tls")
            said = channel_health.describe(p, config, clock())
            assert said.startswith("the gateway's TLS certificate does not verify since 14:02: check"), said
            assert str(ca) in said and said in status.sending_line(config, clock())
            assert status.overview(ctx)["channels"][0]["problem"] == "gateway_tls"
            run(d, clock, 61)
            assert gw.requests == [] and channel_health.problems()[0].since == T0

            # the administrator puts the clinic's CA in the file: the next try reads it
            ca.write_text(open(cert_files()[0]).read())
            run_until_sent(d, clock, b.id, tries=6)
        assert status_counts(b.id) == {"sent": 3}
        assert pushed(gw) == EACH_PUSHED_ONCE, "each patient once"
        assert gw.audience(b.uuid) == {"a-1000", "a-1001", "a-1002"}
        assert channel_health.problems() == [] and all(x.attempts == 1 for x in Delivery.select())
        assert any("event=channel_resumed" in m for m in caplog.messages)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_smtp_certificate_that_does_not_verify_pauses_until_it_is_trusted(db, db_url, tmp_path, security):

    from servers import cert_files

    ca = untrusted_ca_file(tmp_path)
    with SmtpServer(security=security) as smtp:
        config = delivery_config(db_url, tmp_path, smtp=smtp, email={"ca_file": str(ca)})
        ctx, clock, c = started(config)
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            assert smtp.messages == [] and status_counts(c.id) == {"queued": 3}
            assert all(x.attempts == 0 and x.status == "pending" for x in Delivery.select())
            [p] = channel_health.problems()
            said = channel_health.describe(p, config, clock())
            assert p.problem == "smtp_tls" and "certificate verify failed: self-signed" in p.detail, p.detail
            assert said.startswith("the SMTP server's TLS does not verify since 14:02: check"), said
            assert said in status.sending_line(config, clock())

            ca.write_text(open(cert_files()[0]).read())
            run_until_sent(d, clock, c.id, tries=4)
        assert status_counts(c.id) == {"sent": 3}
        assert emailed(smtp) == EACH_EMAILED_ONCE, "each patient once"
        assert channel_health.problems() == [] and all(x.attempts == 1 for x in Delivery.select())


@pytest.mark.parametrize("answer", ["553 5.7.1 <no-reply@example.org>: sender not owned by user clinic", "550 5.7.60"])
def test_a_sender_the_relay_refuses_pauses_email_until_it_accepts(db, db_url, tmp_path, smtp, answer):

    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx, clock, c = started(config)
    smtp.refuse_from = answer
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        assert smtp.messages == [] and status_counts(c.id) == {"queued": 3}
        assert all(x.attempts == 0 and x.status == "pending" for x in Delivery.select())
        [p] = channel_health.problems()
        said = channel_health.describe(p, config, clock())
        assert p.problem == "smtp_sender" and answer in said, said
        assert said.startswith("the SMTP server refuses mail from us since 14:02")
        assert said in status.sending_line(config, clock())
        run(d, clock, 61)
        assert smtp.messages == [] and channel_health.problems()[0].since == T0

        smtp.refuse_from = ""  # the relay's administrator allows our sender
        run_until_sent(d, clock, c.id, tries=4)
    assert status_counts(c.id) == {"sent": 3}
    assert emailed(smtp) == EACH_EMAILED_ONCE, "each patient once"
    assert channel_health.problems() == [] and all(x.attempts == 1 for x in Delivery.select())


@pytest.mark.parametrize("server", ["gateway", "smtp-starttls", "smtp-tls"])
def test_a_server_switched_to_a_trusted_certificate_resumes_its_channel(db, db_url, tmp_path, server):
    """The clinic's CA file is right; the server presents a self-signed certificate until
    its administrator installs the one the CA signed: the channel waits, then everyone
    gets exactly one message."""

    from servers import GatewayServer, clinic_ca_files, switch_to_clinic_certificate

    ca = clinic_ca_files()[0]
    if server == "gateway":
        srv = GatewayServer(token="tok", tls=True)
        make = dict(gateway=srv, gw={"ca_file": ca})
    else:
        srv = SmtpServer(security=server.removeprefix("smtp-"))
        make = dict(smtp=srv, email={"ca_file": ca})
    with srv:
        config = delivery_config(db_url, tmp_path, **make)
        ctx, clock, c = started(config, "gateway" if server == "gateway" else "email")
        with Dispatcher(config, clock=clock) as d:
            d.run_once()
            [p] = channel_health.problems()
            assert p.problem == ("gateway_tls" if server == "gateway" else "smtp_tls")
            assert "failed" not in status_counts(c.id) and all(x.attempts == 0 for x in Delivery.select())
            assert ca in channel_health.describe(p, config, clock())
            switch_to_clinic_certificate(srv.tls_context)
            run_until_sent(d, clock, c.id, tries=6)
        assert status_counts(c.id) == {"sent": 3} and channel_health.problems() == []
        if server == "gateway":
            assert pushed(srv) == EACH_PUSHED_ONCE, "each patient once"
        else:
            assert emailed(srv) == EACH_EMAILED_ONCE, "each patient once"
        assert all(x.attempts == 1 for x in Delivery.select())


def test_a_transport_bug_names_where_it_broke_and_loses_no_email(db, db_url, tmp_path, smtp, monkeypatch, caplog):
    """An exception of no known kind in the transport (a CI run under load logged
    « send_error error="list index out of range" » and nothing else: no file, no line) is
    logged with where it was raised; the email waits for its retry, not lost, and goes once."""
    import smtplib

    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx, clock = ctx_at(config, T0)
    add_patients(1, 2000)
    c = campaigns.create(ctx, "invitation", "Join")
    recipients.assign_ids(ctx, c.id, ["2000"])
    recipients.start(ctx, c.id)
    real_mail = smtplib.SMTP.mail

    def broken(self, *a, **k):  # the library's bug, as a third-party one would be
        raise IndexError("list index out of range")

    monkeypatch.setattr(smtplib.SMTP, "mail", broken)
    with caplog.at_level(logging.ERROR, logger="clinicast.dispatch"), Dispatcher(config, clock=clock) as d:
        d.run_once()
    [line] = [r.getMessage() for r in caplog.records if "event=send_error" in r.getMessage()]
    assert "list index out of range" in line and "at=test_channel_health.py:" in line, line
    assert status_counts(c.id) == {"retrying": 1} and smtp.messages == []
    monkeypatch.setattr(smtplib.SMTP, "mail", real_mail)
    with Dispatcher(config, clock=clock) as d:
        clock.advance(seconds=3600)
        d.run_once()
    assert status_counts(c.id) == {"sent": 1} and len(smtp.messages) == 1
