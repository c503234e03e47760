"""Exactly once, counted where patients receive it: at a real SMTP server, per envelope
recipient — after slow servers, SIGKILLs, database outages, lost answers, and removals
and consent withdrawals while sending. Losses are counted too: every eligible patient
gets their email.

The long ones are marked `slow` (`make test` still runs them).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from helpers import add_patients, ctx_at, status_counts
from proxy import TcpProxy
from servers import GatewayServer, delivery_config
from test_daemon import Daemon, events, wait

from core import campaigns, recipients
from core import db as dbmod
from core.delivery import Dispatcher
from core.enums import DeliveryState
from core.models import Delivery, Patient, Recipient, utcnow


def invite(config, n, start=1000):
    """An invitation started for n new patients (p<i>@example.org): n emails due now."""
    ctx = ctx_at(config, utcnow())[0]
    add_patients(n, start)
    c = campaigns.create(ctx, "invitation", f"Invite {start}")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(start, start + n)])
    recipients.start(ctx, c.id)
    return c


def received(smtp) -> Counter:
    """Messages per envelope recipient, as the server got them."""
    with smtp.lock:
        return Counter(m.rcpt_tos[0] for m in smtp.messages)


def expected(n, start=1000) -> set[str]:
    return {f"p{i}@example.org" for i in range(start, start + n)}


def drain(config, *, clock=utcnow, dispatchers=1, until=None, timeout=120.0):
    """Run `dispatchers` in threads until `until()` holds (default: no delivery open)."""
    until = until or (
        lambda: not Delivery.select().where(Delivery.status.not_in(("sent", "failed", "skipped", "cancelled"))).exists()
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop(i):
        from core.models import database

        with Dispatcher(config, clock=clock, name=f"test-{i}") as d:
            while not stop.is_set():
                try:
                    if not d.run_once().claimed:
                        time.sleep(0.05)
                except Exception as e:  # noqa: BLE001 - a database outage: the next pass retries
                    errors.append(e)
                    time.sleep(0.2)
        database.close()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(dispatchers)]
    for t in threads:
        t.start()
    try:
        assert wait(until, timeout, every=0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    return errors


# --- a slow server, no crash -------------------------------------------------------------


@pytest.mark.slow  # it must outlive its lease on the wall clock: out of the quick run (issue #22)
def test_a_server_slower_than_the_lease_gets_each_email_once(db, db_url, tmp_path, smtp):
    """The bug: a pass held 500 rows for longer than the lease and the same process sent
    them again. Here sending everything takes about three leases."""
    n = 400
    smtp.delay = 0.03  # 0.02 ended in 2.6 s on a quiet machine once this round made claims and results faster
    pg = "postgresql" in db_url
    config = delivery_config(db_url, tmp_path, smtp=smtp, scheduler={"lease_seconds": 1.5})
    c = invite(config, n)
    t0 = time.monotonic()
    drain(config, dispatchers=2 if pg else 1)
    took = time.monotonic() - t0
    got = received(smtp)
    print(
        f"figure: slow server ({'pg' if pg else 'sqlite'}): {n} patients in {took:.1f} s, lease 1.5 s, "
        f"{sum(got.values()) - n} duplicates"
    )
    assert set(got) == expected(n), "nobody lost"
    assert max(got.values()) == 1, f"duplicates: {sum(got.values()) - n}"
    assert took > 2 * 1.5, f"the run outlived its lease several times over ({took:.1f} s)"
    assert status_counts(c.id) == {"sent": n}


# --- SIGKILL, again and again ---------------------------------------------------------------


# Twenty kills in about fifteen seconds land on the same email's hand-over twice now and
# then: since this round an SMTP connection hands its next email over while the current
# one is answered, so a kill finds two emails a connection in flight, one of them not yet
# at the server. With the default `unknown_outcome_retries = 1` such an email is given up
# as "may have been delivered twice" (the policy's promise: one second copy at most; the
# default is tested as shipped by test_a_lost_answer_is_unknown_and_retried_once_…) —
# seen in CI: 4 patients of 600 after two kills each, none of them at the server. These
# tests are about nobody lost and duplicates bounded under kills far denser than any
# host's, so they allow three unknown outcomes.
KILLS_EMAIL = {"unknown_outcome_retries": 3}


def _kill_repeatedly(paths, smtp, n, kills, concurrency):
    rng = random.Random(7)
    daemons = [Daemon(p) for p in paths]
    killed = 0
    while killed < kills and len(received(smtp)) < n:
        time.sleep(rng.uniform(0.3, 1.2))
        victim = rng.randrange(len(daemons))
        daemons[victim].signal(signal.SIGKILL)
        daemons[victim].wait(10)
        killed += 1
        daemons[victim] = Daemon(paths[victim])
    try:
        assert wait(lambda: len(received(smtp)) == n and not _open(), 180, every=0.2), daemons[0].stderr[-3000:]
    finally:
        for d in daemons:
            d.signal(signal.SIGTERM)
        for d in daemons:
            d.wait(30)
    return killed


def _open() -> bool:
    return Delivery.select().where(Delivery.status.in_(("pending", "sending", "retrying"))).exists()


@pytest.mark.slow
def test_twenty_sigkills_during_email_sends_sqlite(sqlite_url, tmp_path, smtp):
    dbmod.bind(sqlite_url)
    dbmod.migrate()
    n, concurrency = 600, 2
    smtp.delay = 0.01
    config = delivery_config(sqlite_url, tmp_path, smtp=smtp)
    invite(config, n)
    path = delivery_config(
        sqlite_url, tmp_path, smtp=smtp, as_toml=True, scheduler={"lease_seconds": 2.0}, email=KILLS_EMAIL
    )
    killed = _kill_repeatedly([path], smtp, n, 20, concurrency)
    got = received(smtp)
    dupes = sum(got.values()) - len(got)
    assert set(got) == expected(n), "nobody lost"
    print(f"figure: sqlite, one daemon: {killed} SIGKILLs, {n} patients, {dupes} duplicates, 0 lost")
    assert killed >= 10 and dupes <= killed * concurrency, f"{dupes} duplicates after {killed} kills"
    _every_delivery_ends_recorded()


def _every_delivery_ends_recorded() -> None:
    """Every delivery ends sent (some as "may have been delivered twice"), none left open
    or given up."""
    others = [(d.id, d.status, d.error_code, d.outcomes_unknown) for d in Delivery.select() if d.status != "sent"]
    assert not others, f"every delivery ends recorded as sent: {others}"


@pytest.mark.slow
@pytest.mark.pg
def test_twenty_sigkills_of_two_daemons_on_postgresql(pg_schema, tmp_path, smtp):
    database = dbmod.bind(pg_schema)
    dbmod.migrate()
    n, concurrency = 600, 2
    smtp.delay = 0.01
    config = delivery_config(pg_schema, tmp_path, smtp=smtp)
    invite(config, n)
    path = delivery_config(
        pg_schema, tmp_path, smtp=smtp, as_toml=True, scheduler={"lease_seconds": 2.0}, email=KILLS_EMAIL
    )
    killed = _kill_repeatedly([path, path], smtp, n, 20, concurrency)
    got = received(smtp)
    dupes = sum(got.values()) - len(got)
    assert set(got) == expected(n), "nobody lost"
    print(f"figure: postgresql, two daemons: {killed} SIGKILLs, {n} patients, {dupes} duplicates, 0 lost")
    assert killed >= 10 and dupes <= killed * concurrency, f"{dupes} duplicates after {killed} kills"
    _every_delivery_ends_recorded()
    database.close()


# --- the database goes away under two daemons ------------------------------------------------


@pytest.mark.slow
@pytest.mark.pg
def test_a_database_outage_under_two_daemons(pg_schema, tmp_path, smtp):
    from urllib.parse import urlsplit

    database = dbmod.bind(pg_schema)
    dbmod.migrate()
    n, concurrency = 400, 2
    smtp.delay = 0.02
    config = delivery_config(pg_schema, tmp_path, smtp=smtp)
    c = invite(config, n)
    u = urlsplit(pg_schema)
    with TcpProxy(u.hostname, u.port or 5432) as proxy:
        proxied = pg_schema.replace(f"{u.hostname}:{u.port}" if u.port else u.hostname, f"127.0.0.1:{proxy.port}", 1)
        path = delivery_config(proxied, tmp_path, smtp=smtp, as_toml=True, scheduler={"lease_seconds": 3.0})
        daemons = [Daemon(path), Daemon(path)]
        try:
            assert wait(lambda: len(received(smtp)) >= n // 4, 60), daemons[0].stderr[-2000:]
            proxy.cut(seconds=3.0)  # every connection reset; the "server" down for 3 s
            assert wait(lambda: len(received(smtp)) == n and not _open(), 120, every=0.2), daemons[0].stderr[-3000:]
        finally:
            for d in daemons:
                d.signal(signal.SIGTERM)
            ended = [d.wait(30) for d in daemons]
    assert [code for code, _ in ended] == [0, 0], [err[-2000:] for _, err in ended]
    assert any(e.get("event") == "job_failed" for _, err in ended for e in events(err)), "the outage was felt"
    got = received(smtp)
    print(f"figure: postgresql outage under two daemons: {n} patients, {sum(got.values()) - n} duplicates")
    assert set(got) == expected(n), "nobody lost"
    assert sum(got.values()) - n <= 2 * concurrency, f"duplicates: {sum(got.values()) - n}"
    assert status_counts(c.id) == {"sent": n}
    database.close()


# --- a lost "250" --------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", [None, 0], ids=["as shipped", "0"])
def test_a_lost_answer_is_unknown_and_retried_once_after_backoff_at_most(db, db_url, tmp_path, smtp, setting):
    """As shipped (no `unknown_outcome_retries` in the config) an email whose answer was lost
    is sent at most twice in all: the default protects patients, so it is tested as it ships."""
    n = 6
    retries = 1 if setting is None else setting
    email = {} if setting is None else {"unknown_outcome_retries": setting}
    config = delivery_config(db_url, tmp_path, smtp=smtp, email=email, scheduler={"max_attempts": 8})
    ctx, clock = ctx_at(config, utcnow())
    add_patients(n)
    c = campaigns.create(ctx, "invitation", "Lost")
    recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1000 + n)])
    recipients.start(ctx, c.id)
    smtp.faults += ["lost-250"] * 50  # the server keeps every message and never answers
    pg = "postgresql" in db_url
    ds = [Dispatcher(config, clock=clock, name=f"d{i}") for i in range(2 if pg else 1)]

    def every_dispatcher():
        for d in ds:
            d.run_once()

    try:
        every_dispatcher()
        assert max(received(smtp).values()) == 1, "never sent again at once on a new connection"
        rows = list(Recipient.select())
        if retries:
            assert {(r.status, r.reason_code) for r in rows} == {("retrying", "outcome_unknown")}
            assert all(r.next_attempt_at > clock() for r in rows), "after a backoff"
            clock.advance(seconds=10)
            every_dispatcher()
        for _ in range(5):  # however long it goes on, no more copies
            clock.advance(seconds=3600)
            every_dispatcher()
    finally:
        for d in ds:
            d.close()
    got = received(smtp)
    assert set(got) == expected(n) and set(got.values()) == {1 + retries}
    failed = list(Recipient.select())
    # two copies handed over, neither answer heard: the ledger says it may have arrived twice
    code = "maybe_twice" if retries else "outcome_unknown"
    assert {(r.status, r.reason_code) for r in failed} == {("failed", code)}
    assert "may have been delivered" in failed[0].reason
    assert all(x.attempts == 1 + retries and x.outcomes_unknown == 1 + retries for x in Delivery.select())


# --- a slow-drip gateway -------------------------------------------------------------------------


@pytest.mark.slow  # a wall-clock bound per call: out of the quick run
def test_a_slow_drip_gateway_is_cut_off_and_attempts_stay_bounded(db, db_url, tmp_path):
    with GatewayServer(token="tok") as gw:
        gw.fail("drip", seconds=1.5, count=100, method="PUT")
        config = delivery_config(db_url, tmp_path, gateway=gw, gw={"timeout_seconds": 1.0})
        ctx, clock = ctx_at(config, utcnow())
        add_patients(2, app_id=lambda i: f"a-{i}")
        today = ctx.today()
        tpl = {"fr": {"title": "T", "body": "B", "push": "P"}}
        b = campaigns.create(ctx, "broadcast", "Drip", today, today + timedelta(days=1), templates=tpl)
        recipients.assign_ids(ctx, b.id, ["1000", "1001"])
        with Dispatcher(config, clock=clock) as d:
            for _ in range(6):
                t0 = time.monotonic()
                d.run_once()
                assert time.monotonic() - t0 < 5, "one call is bounded by the deadline, whatever the server does"
                clock.advance(seconds=60)
        put = Delivery.get(Delivery.kind == "put")
        assert put.status == DeliveryState.FAILED and put.attempts == config.scheduler.max_attempts
        assert len(gw.calls("PUT")) == config.scheduler.max_attempts, "never sent more often than max_attempts"
        assert not Delivery.select().where(Delivery.status == DeliveryState.SENDING).exists()


# --- removals and consent withdrawals while sending ------------------------------------------


def _meddle(ids, rng, campaign_id, ctx, log, stop, errors):
    """Remove some patients and withdraw others' consent while the emails go out."""
    from core.models import database

    order = list(ids)
    rng.shuffle(order)
    try:
        for i, emr in enumerate(order):
            if stop.is_set():
                break
            time.sleep(rng.uniform(0.005, 0.03))
            if i % 2 == 0:
                answer = recipients.remove(ctx, campaign_id, emr).words()
                log.append(("removed", emr, answer, utcnow()))
            else:
                Patient.update(do_not_contact=True).where(Patient.emr_id == emr).execute()
                log.append(("withdrew", emr, "", utcnow()))
    except Exception as e:  # noqa: BLE001 - a removal that fails while sending is the bug (a deadlock was)
        errors.append(e)
    finally:
        database.close()


def test_removals_and_consent_withdrawals_while_sending(db, db_url, tmp_path, smtp):
    n = 240
    smtp.delay = 0.02
    pg = "postgresql" in db_url
    config = delivery_config(db_url, tmp_path, smtp=smtp)
    ctx = ctx_at(config, utcnow())[0]
    c = invite(config, n)
    rng = random.Random(3)
    meddled = rng.sample([str(i) for i in range(1000, 1000 + n)], 80)
    log: list[tuple] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    t = threading.Thread(target=_meddle, args=(meddled, rng, c.id, ctx, log, stop, errors), daemon=True)
    t.start()
    try:
        drain(config, dispatchers=2 if pg else 1)
    finally:
        stop.set()
        t.join(30)
    assert not errors, f"a removal failed while sending: {errors[0]!r}"
    got = received(smtp)
    sent_at = {r.patient.emr_id: (r.status, r.sent_at) for r in Recipient.select(Recipient, Patient).join(Patient)}
    handed = {d.recipient.patient.emr_id: d.handed_at for d in Delivery.select().where(Delivery.sent_at.is_null(False))}
    slipped = []
    for what, emr, answer, at in log:
        address = f"p{emr}@example.org"
        if what == "removed":
            status, when = sent_at[emr]
            assert status == "removed"
            if got[address]:
                # sent anyway: only if remove said so, and the ledger shows the send
                assert "being sent at this moment" in answer or "already sent" in answer, (emr, answer)
                assert when is not None, f"{emr}: emailed, and the ledger says not"
            else:
                assert "will not receive" in answer or "being sent" in answer, (emr, answer)
        elif got[address]:
            slipped.append(emr)
            # emailed although consent was withdrawn: only if it was handed over before
            assert handed[emr] is not None and handed[emr] <= at, (emr, handed[emr], at)
    assert max(got.values()) == 1
    not_meddled = expected(n) - {f"p{e}@example.org" for e in meddled}
    assert not_meddled <= set(got), "everyone else got theirs"
    withdrawn = [e for w, e, _, _ in log if w == "withdrew"]
    skipped = Recipient.select().join(Patient).where(Patient.emr_id.in_(withdrawn), Recipient.status == "skipped")
    assert skipped.count() + len(slipped) == len(withdrawn)
    assert len(log) > 20, "the meddling overlapped the sending"


def test_a_second_copy_that_went_through_after_an_unknown_one_is_sent_and_may_be_twice(db, db_url, tmp_path, smtp):
    """Issue #20: the first copy's answer was lost (the patient got it), the second went
    through: the recipient is sent, with its time, and the ledger says it may have
    arrived twice."""
    from core import recipients as rmod
    from core.reasons import describe

    config = delivery_config(db_url, tmp_path, smtp=smtp, email={"unknown_outcome_retries": 1})
    ctx, clock = ctx_at(config, utcnow())
    add_patients(1)
    c = campaigns.create(ctx, "invitation", "Twice")
    recipients.assign_ids(ctx, c.id, ["1000"])
    recipients.start(ctx, c.id)
    smtp.faults.append("lost-250")
    with Dispatcher(config, clock=clock) as d:
        d.run_once()
        assert Recipient.get().status == "retrying"
        clock.advance(seconds=3600)
        d.run_once()
    assert len(smtp.messages) == 2
    r = Recipient.get()
    assert (r.status, r.reason_code, r.sent_at) == ("sent", "maybe_twice", clock())
    assert describe(r.reason_code, r.reason) == "may have been delivered twice (an earlier copy's outcome is unknown)"
    assert rmod.page(ctx, c.id, limit=None)[0].status == "sent"


# --- two hosts' daemons on one PostgreSQL database, one of them killed --------------------


@pytest.mark.slow
@pytest.mark.pg
def test_two_daemons_send_one_campaign_once_each_and_one_goes_on_when_the_other_is_killed(pg_schema, tmp_path, smtp):
    """An administrator's day on several hosts: two daemons on one database send one
    campaign, each patient gets exactly one email at the relay, both daemons sent some;
    then one of them is SIGKILLed in the middle of a second campaign and not restarted
    (its host is down): the other takes up its leases once they expire and finishes,
    and nobody is lost; a copy sent twice is only one in flight at the kill, and the
    ledger says so."""
    database = dbmod.bind(pg_schema)
    dbmod.migrate()
    smtp.delay = 0.01
    config = delivery_config(pg_schema, tmp_path, smtp=smtp)
    n = 300
    path = delivery_config(pg_schema, tmp_path, smtp=smtp, as_toml=True, scheduler={"lease_seconds": 3.0})
    daemons = [Daemon(path), Daemon(path)]
    try:
        # both running before there is anything to send: a daemon started a second after
        # the other found 300 quick emails already claimed and sent (both sent: [0, 128])
        up = [lambda d=d: any(e.get("event") == "scheduler_started" for e in events(d.stderr)) for d in daemons]
        assert wait(lambda: all(f() for f in up), 60, every=0.1), [d.stderr[-2000:] for d in daemons]
        first = invite(config, n)
        assert wait(lambda: len(received(smtp)) == n and not _open(), 120, every=0.2), daemons[0].stderr[-3000:]
        got = received(smtp)
        assert set(got) == expected(n) and max(got.values()) == 1, f"duplicates: {sum(got.values()) - n}"
        sent_by = [sum(int(e.get("sent", 0)) for e in events(d.stderr) if e.get("event") == "pass") for d in daemons]
        assert min(sent_by) > 0, f"both daemons sent: {sent_by}"
        assert status_counts(first.id) == {"sent": n}

        second = invite(config, n, start=5000)
        assert wait(lambda: sum(1 for r in received(smtp) if r.startswith("p5")) >= n // 4, 60)
        daemons[0].signal(signal.SIGKILL)
        daemons[0].wait(10)
        assert wait(lambda: not _open(), 120, every=0.2), daemons[1].stderr[-3000:]
    finally:
        for d in daemons:
            if d.p.poll() is None:
                d.signal(signal.SIGTERM)
        code, err = daemons[1].wait(30)
    assert code == 0, err[-2000:]
    got = received(smtp)
    later = {k: v for k, v in got.items() if k.startswith("p5")}
    assert set(later) == expected(n, start=5000), "nobody lost"
    twice = sorted(k for k, v in later.items() if v > 1)
    print(f"figure: postgresql, two daemons, one killed: {n} patients, {len(twice)} sent twice, 0 lost")
    assert len(twice) <= 2 * 2, f"only what was in flight at the kill: {twice}"  # concurrency 2, two a connection
    marked = {
        f"p{r.patient.emr_id}@example.org"
        for r in Recipient.select()
        .join(Patient)
        .where(Recipient.campaign == second.id, Recipient.reason_code == "maybe_twice")
    }
    assert set(twice) <= marked, f"the ledger says each copy that may be twice: {twice} vs {marked}"
    assert status_counts(second.id) == {"sent": n}
    database.close()
