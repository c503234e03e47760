"""Who sends, in words (SPEC §13): a session that cannot read the gateway token works
but does not send, and its status line says so; `clinicast status` names the daemon's
OS user. The real multi-user case is in test_server_install.py."""

from __future__ import annotations

import pytest
from tui_helpers import LOGIN, app_for, make_world, screen_text, settle

from core import context, status
from core.models import Heartbeat, utcnow
from core.scheduling.heartbeat import DAEMON
from core.scheduling.scheduler import Scheduler


def without_the_token(world):
    """The gateway over HTTP with its token in a variable this process does not have."""
    text = world.config_path.read_text(encoding="utf-8")
    start = text.index("[gateway]")
    end = text.index("\n[", start + 1)
    gateway = '[gateway]\ntransport = "http"\nurl = "http://127.0.0.1:9"\ntoken_env = "CLINICAST_TEST_NO_SUCH_TOKEN"\n'
    world.config_path.write_text(text[:start] + gateway + text[end:], encoding="utf-8")


@pytest.mark.anyio
async def test_a_session_that_cannot_read_the_token_says_nothing_is_sending(tmp_path, as_mlaval, monkeypatch):
    monkeypatch.delenv("CLINICAST_TEST_NO_SUCH_TOKEN", raising=False)
    w = make_world(tmp_path / "w", embedded="always", populate=False, clock=utcnow)
    without_the_token(w)
    app = app_for(w, scheduler=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, 0.5)
        assert app.scheduler is None  # the embedded scheduler did not start
        text = screen_text(app)
        assert "nothing is sending: the daemon is not running and you cannot read the gateway token" in text
        assert "campaigns" in text.lower()  # and the app itself works


def test_a_live_daemon_is_named_with_its_host_and_os_user(tmp_path, as_mlaval):
    w = make_world(tmp_path / "w", populate=False, clock=utcnow)
    config = w.ctx.config
    sched = Scheduler(config, role=DAEMON)
    sched.heartbeat()  # the row a running daemon writes, from the real code path
    try:
        hb = Heartbeat.get(Heartbeat.name == sched.name)
        assert hb.os_user == context.login_name() == LOGIN  # the login this process runs as (as_mlaval)
        assert status.sending_line(config, utcnow()) == f"deliveries: sent by the daemon on {hb.host}"
        text = status.format_overview(status.overview(w.ctx), config.clinic.tz)
        assert f"{sched.name} as {hb.os_user}" in text
    finally:
        sched.stop(0.1)
    assert status.sending_line(config, utcnow()).startswith("nothing is sending: the daemon is not running")


def test_the_relays_pace_counts_a_retry_when_it_is_due(db, db_url, tmp_path):
    """`status` and `campaigns show` said « 121 courriels en attente, le dernier part vers
    14:04 » with one of them a retry the relay's 4xx put off until tomorrow morning: a
    delivery cannot leave before it is due. The last leaves at the later of the pace and
    the latest due time, in sending hours; emails due before the retry are paced without
    it, and a start's emails go ahead of it (claimed by due time)."""
    from datetime import datetime, timedelta

    from helpers import add_patients, ctx_at
    from servers import delivery_config

    from core import campaigns, pace, recipients
    from core.models import Delivery
    from core.scheduling.heartbeat import beat

    hours = {"hours": "08:00-20:00", "days": ["mon", "tue", "wed", "thu", "fri"]}
    config = delivery_config(db_url, tmp_path, email={"max_per_minute": 60}, sending=hours)
    t0 = datetime(2026, 3, 2, 19, 2)  # Monday 14:02 in Toronto
    ctx, clock = ctx_at(config, t0)
    add_patients(181)
    first, second = (campaigns.create(ctx, "invitation", name) for name in ("First", "Second"))
    recipients.assign_ids(ctx, first.id, [str(i) for i in range(1000, 1121)])
    recipients.start(ctx, first.id)
    beat("host:1", "daemon", clock())
    caps = "at most 60 emails a minute (the relay's limit)"
    # 121 due now at 60 a minute: 60 now, 60 at 14:03, the last at 14:04
    assert pace.channel_words(config, clock()) == f"{caps}; 121 emails waiting, the last leaves around 14:04"
    # one of them refused "try later" (a 4xx): retried Tuesday 06:00, before sending hours
    retry = Delivery.select().where(Delivery.campaign == first.id).order_by(Delivery.id.desc()).first()
    Delivery.update(status="retrying", attempts=1, due_at=datetime(2026, 3, 3, 11, 0)).where(
        Delivery.id == retry.id
    ).execute()  # as the dispatcher records it
    tuesday = "the last leaves around Mar 3, 2026, 08:00"  # when sending hours open, not 14:04
    assert pace.channel_words(config, clock()) == f"{caps}; 121 emails waiting, {tuesday}"
    assert pace.campaign_words(config, first.id, clock()) == f"{caps}; 121 emails waiting, {tuesday}"
    # a start of 60 now: after the 120 due now, before the retry (181 would end at 14:05)
    recipients.assign_ids(ctx, second.id, [str(i) for i in range(1121, 1181)])
    assert recipients.start_plan(ctx, second.id).pace.endswith("the last email leaves around 14:04")
    recipients.start(ctx, second.id)
    assert pace.campaign_words(config, second.id, clock()) == f"{caps}; 60 emails waiting, the last leaves around 14:04"
    assert pace.channel_words(config, clock()) == f"{caps}; 181 emails waiting, {tuesday}"
    # due in the past (overdue): as due now
    Delivery.update(due_at=t0 - timedelta(hours=1)).where(Delivery.id == retry.id).execute()
    assert pace.channel_words(config, clock()) == f"{caps}; 181 emails waiting, the last leaves around 14:05"
    # 90 put off until Tuesday 06:00: paced from 08:00 on, 60 then and 30 a minute later
    later = Delivery.select(Delivery.id).where(Delivery.campaign == first.id).order_by(Delivery.id).limit(90)
    Delivery.update(status="retrying", due_at=datetime(2026, 3, 3, 11, 0)).where(Delivery.id.in_(later)).execute()
    assert (
        pace.channel_words(config, clock()) == f"{caps}; 181 emails waiting, the last leaves around Mar 3, 2026, 08:01"
    )
