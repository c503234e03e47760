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
