"""Stop (SPEC §11): what was not handed to a transport is cancelled, its recipients go
back to `assigned`; what was in flight finishes; a later start sends the rest once —
at a real loopback gateway and SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import date, datetime

import pytest
from click.testing import CliRunner
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config

from cli import cli
from core import campaigns, recipients
from core.delivery import Dispatcher
from core.delivery.store import in_flight
from core.enums import DeliveryKind, DeliveryState
from core.errors import Refused
from core.models import AuditLog, Campaign, Delivery, Recipient

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday
TPL = {"fr": {"title": "Vaccins", "body": "Vaccins.", "push": "Un message"}}


@pytest.fixture
def env(db, db_url, tmp_path, smtp, gw):
    made = []
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    ctx, clock = ctx_at(config, T0)

    def make(**gw_settings):
        d = Dispatcher(delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, gw=gw_settings or None), clock=clock)
        made.append(d)
        return d

    yield ctx, clock, make
    for d in made:
        d.close()


def live_broadcast(ctx, n: int):
    add_patients(n, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Vaccins", date(2026, 3, 1), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, [str(i) for i in range(1000, 1000 + n)])
    return b


def pushed_ids(gw, b) -> Counter:
    """App ids in every push request the gateway processed as new work (replays excluded)."""
    out: Counter = Counter()
    for r in gw.calls("POST", f"/v1/broadcasts/{b.uuid}/push"):
        if r.status == 200 and not r.replay:
            out.update(r.body["app_ids"])
    return out


class TestStop:
    def test_before_any_send_everything_goes_back_to_assigned(self, env, smtp):
        ctx, clock, make = env
        add_patients(3)
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
        recipients.start(ctx, c.id)
        assert recipients.stop_plan(ctx, c.id).to_json() == {"stopped": 3, "already_sent": 0, "in_flight": 0}
        assert status_counts(c.id) == {"queued": 3}  # the plan changes nothing
        r = recipients.stop(ctx, c.id)
        assert r.to_json() == {"stopped": 3, "already_sent": 0, "in_flight": 0}
        assert status_counts(c.id) == {"assigned": 3}
        assert {(d.status, d.error_code) for d in Delivery.select()} == {(DeliveryState.CANCELLED, "stopped")}
        d = make()
        assert d.run_once().claimed == 0 and not smtp.messages
        audit = AuditLog.get(AuditLog.action == "stop")
        assert audit.campaign == c.id and json.loads(audit.detail)["stopped"] == 3
        # a later start sends to them, once
        assert recipients.start(ctx, c.id).will_send == 3
        d.run_once()
        assert len(smtp.messages) == 3 and status_counts(c.id) == {"sent": 3}
        assert recipients.stop_plan(ctx, c.id).to_json() == {"stopped": 0, "already_sent": 3, "in_flight": 0}
        assert recipients.stop_plan(ctx, c.id).nothing_to_stop

    def test_a_claimed_row_not_handed_over_is_given_up(self, env, smtp):
        from core.delivery.store import claim

        ctx, clock, make = env
        add_patients(1)
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["1000"])
        recipients.start(ctx, c.id)
        (row,) = claim("other-host:1", T0, 60, 10)  # a dispatcher holds it, not started
        assert recipients.stop(ctx, c.id).to_json() == {"stopped": 1, "already_sent": 0, "in_flight": 0}
        dl = Delivery.get_by_id(row.id)
        assert (dl.status, dl.claimed_by, dl.claim_token) == (DeliveryState.CANCELLED, None, None)

    def test_an_in_flight_push_that_fails_is_not_retried_after_the_stop(self, env, gw):
        ctx, clock, make = env
        b = live_broadcast(ctx, 2)
        make().run_once()  # in the feed
        recipients.start(ctx, b.id)
        # the push request is held by the server until the stop has answered (no race
        # against a latency), then its connection drops: a failure to retry
        gw.fail("hold", path=f"/v1/broadcasts/{b.uuid}/push")
        d = make()
        t = threading.Thread(target=d.run_once)
        t.start()
        try:
            assert wait(lambda: Delivery.select().where(in_flight()).count() == 2)
            assert recipients.stop(ctx, b.id).to_json() == {"stopped": 0, "already_sent": 0, "in_flight": 2}
        finally:
            gw.release.set()
            t.join()
        assert not gw.pushes and status_counts(b.id) == {"assigned": 2}
        clock.advance(minutes=5)
        d.run_once()  # its retry is due: the recipients are no longer waiting
        assert not gw.pushes
        assert {x.error_code for x in Delivery.select().where(Delivery.kind == DeliveryKind.PUSH)} == {"stopped"}
        recipients.start(ctx, b.id)
        d.run_once()
        assert len(gw.pushes) == 2 and status_counts(b.id) == {"sent": 2}

    def test_cli(self, env, config_path_for_cli):
        ctx, clock, make = env
        add_patients(2)
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["1000", "1001"])
        recipients.start(ctx, c.id)
        run = CliRunner().invoke
        # the words of core's StopResult.words, those the TUI's notice says
        r = run(cli, ["campaigns", "stop", str(c.id), "--config", str(config_path_for_cli)])
        assert r.exit_code == 0 and r.output == (
            "Stopped: 2 not sent (back to assigned; a start sends to them), "
            "0 being sent at this moment (they finish), 0 already sent\n"
        ), r.output
        recipients.start(ctx, c.id)
        r = run(cli, ["campaigns", "stop", str(c.id), "--json", "--config", str(config_path_for_cli)])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output) == {"stopped": 2, "already_sent": 0, "in_flight": 0}
        r = run(cli, ["campaigns", "stop", str(c.id), "--config", str(config_path_for_cli)])
        assert r.exit_code == 1 and r.stderr.strip() == (
            f"clinicast: nothing to stop: no message of campaign {c.id} is waiting to be sent "
            "(0 already sent, 0 being sent at this moment)"
        ), r.output
        assert AuditLog.select().where(AuditLog.action == "stop").count() == 2, "the refused stop wrote nothing"
        r = run(cli, ["campaigns", "stop", "999", "--config", str(config_path_for_cli)])
        assert r.exit_code == 2 and r.output.strip() == "clinicast: no campaign with id 999"

    def test_a_stop_that_would_change_nothing_is_refused_and_writes_nothing(self, env, smtp, config_path_for_cli):
        """A draft (nothing was ever running), then everything sent: a stop changed nothing
        but wrote an audit row « stop » as if something had been stopped."""
        ctx, clock, make = env
        add_patients(2)
        c = campaigns.create(ctx, "invitation", "Invite")
        recipients.assign_ids(ctx, c.id, ["1000", "1001"])
        run = CliRunner().invoke
        before = [(a.id, a.action) for a in AuditLog.select()]
        r = run(cli, ["campaigns", "stop", str(c.id), "--json", "--config", str(config_path_for_cli)])
        assert r.exit_code == 1 and not r.stdout, r.output
        assert r.stderr.strip() == f"clinicast: nothing to stop: campaign {c.id} has not been started"
        with pytest.raises(Refused, match="has not been started"):
            recipients.stop(ctx, c.id)
        assert [(a.id, a.action) for a in AuditLog.select()] == before and status_counts(c.id) == {"assigned": 2}
        assert recipients.stop_plan(ctx, c.id).nothing_to_stop  # the TUI asks the same question first
        recipients.start(ctx, c.id)
        make().run_once()
        assert status_counts(c.id) == {"sent": 2}
        before = [(a.id, a.action) for a in AuditLog.select()]
        changed = Campaign.get_by_id(c.id).updated_at
        clock.advance(minutes=5)
        with pytest.raises(Refused, match=r"no message of campaign \d+ is waiting to be sent \(2 already sent"):
            recipients.stop(ctx, c.id)
        assert [(a.id, a.action) for a in AuditLog.select()] == before and status_counts(c.id) == {"sent": 2}
        assert Campaign.get_by_id(c.id).updated_at == changed


@pytest.fixture
def config_path_for_cli(db_url, tmp_path):
    return delivery_config(db_url, tmp_path, as_toml=True)


def wait(predicate, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_2000_pushes_to_a_slow_gateway_stopped_then_started_again(env, gw, db_url):
    """Nothing leaves after the stop answers but what it counted in flight; a second start
    sends the rest exactly once (by the gateway's log) — two dispatchers on PostgreSQL."""
    ctx, clock, make = env
    n = 2000
    b = live_broadcast(ctx, n)
    make().run_once()  # every patient in the feed
    recipients.start(ctx, b.id)
    gw.latency = 1.0
    # a request is never cut by the client here (a timed-out batch waits for a later pass and
    # replays: 1,000 of 2,000 after the second start at a load of 15 with 5 s): what is
    # counted is the stop's word against the gateway's log, not a race with a timer
    dispatchers = [make(concurrency=1, timeout_seconds=120.0) for _ in range(2 if db_url.startswith("postgres") else 1)]
    threads = [threading.Thread(target=d.run_once) for d in dispatchers]
    for t in threads:
        t.start()
    assert wait(lambda: Delivery.select().where(in_flight()).count() >= 500)
    res = recipients.stop(ctx, b.id)
    # (a loaded machine may finish a request between the poll and the stop: counts, not timing)
    assert res.stopped > 0 and res.stopped + res.in_flight + res.already_sent == n
    for t in threads:
        t.join()
    for d in dispatchers:
        d.run_once()  # anything left that could still go would go now
    first = pushed_ids(gw, b)
    assert sum(first.values()) == len(gw.pushes) == res.already_sent + res.in_flight
    assert status_counts(b.id) == {"sent": len(gw.pushes), "assigned": n - len(gw.pushes)}

    gw.latency = 0.2
    plan = recipients.start(ctx, b.id)
    assert plan.will_send == n - len(first) and plan.already_sent == len(first)
    threads = [threading.Thread(target=d.run_once) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = pushed_ids(gw, b)
    assert len(every) == n and set(every.values()) == {1}  # each app id in one processed request
    assert len(gw.pushes) == n and gw.push_repeats == 0
    assert max(gw.new_by_key.values()) == 1
    assert status_counts(b.id) == {"sent": n}
    assert Recipient.select().where(Recipient.sent_at.is_null(True)).count() == 0
