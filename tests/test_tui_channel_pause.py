"""The TUI's status line says a channel's pause (issue #20, SPEC §5): a real loopback
gateway refuses the token, the status line of an open TUI says so with the file to
fix; once the file holds the right token and the gateway accepts, the words go by
themselves. The daemon's part is played by a Dispatcher on the same database; the TUI
only reads, as it does beside a daemon. Driven with Pilot at 80x24."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest
from helpers import add_patients
from servers import GatewayServer
from test_dispatch import TPL
from tui_helpers import LOGIN, app_for, campaign_open, make_world, rendered, settle, wait_for

from core import campaigns, channel_health, context, recipients
from core import config as cfg
from core.delivery import Dispatcher

pytestmark = pytest.mark.anyio


def status_line(app) -> str:
    return " ".join(str(app.screen.query_one("#status-who").render()).split())


async def test_the_status_line_says_the_gateway_refuses_our_token_then_stops_saying_it(tmp_path, as_mlaval):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "login_name", lambda: LOGIN)
        world = make_world(tmp_path / "w", populate=False)
    token = tmp_path / "gateway.token"
    token.write_text("mistyped-by-the-admin\n")
    os.chmod(token, 0o600)
    with GatewayServer(token="tok") as gw:
        text = world.config_path.read_text(encoding="utf-8")
        start, end = text.index("[gateway]"), text.index("[scheduler]")
        gateway = f'[gateway]\ntransport = "http"\nurl = "{gw.url}"\ntoken_file = "{token}"\ntimeout_seconds = 2\n\n'
        world.config_path.write_text(text[:start] + gateway + text[end:], encoding="utf-8")
        config = cfg.load(world.config_path, env={})
        ctx = context.for_current_user(config, world.clock)
        add_patients(3, start=9000, app_id=lambda i: f"a-{i}")
        day = world.clock().date()
        b = campaigns.create(
            ctx, "broadcast", "Vaccins", day - timedelta(days=1), day + timedelta(days=10), templates=TPL
        )
        added = recipients.assign_ids(ctx, b.id, ["9000", "9001", "9002"])
        assert added.added == 3, added
        recipients.start(ctx, b.id)

        app = app_for(world, scheduler=None)  # as the config says: "never" (a daemon sends)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "refuses" not in status_line(app)
            with Dispatcher(config, clock=world.clock) as d:
                await asyncio.to_thread(d.run_once)
                assert [r.status for r in gw.requests] == [401]
                said = f"the gateway refuses our token since 12:00: check {token}"
                assert await wait_for(pilot, lambda: said in status_line(app)), status_line(app)

                # the administrator fixes the file; at the next try the gateway accepts
                token.write_text("tok\n")
                world.clock.at += timedelta(seconds=channel_health.PROBE_SECONDS + 1)
                await asyncio.to_thread(d.run_once)
            assert channel_health.problems() == []
            assert await wait_for(pilot, lambda: "refuses" not in status_line(app)), status_line(app)
            assert "nothing is sending" in status_line(app)
        assert sorted(p["app_id"] for p in gw.pushes) == ["a-9000", "a-9001", "a-9002"]


async def test_the_ledger_and_the_detail_show_both_times_of_an_email_that_may_have_arrived_twice(tmp_path, as_mlaval):
    """A real SMTP server keeps the first copy and drops the connection before its 250;
    the second copy goes through an hour later. The recipients table and the detail
    panel say it may have arrived twice, with both times (12:00 and 13:00 in Toronto)."""
    from collections import Counter

    from servers import SmtpServer

    from tui.screens.recipient_detail import RecipientDetailModal

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(context, "login_name", lambda: LOGIN)
        world = make_world(tmp_path / "w", populate=False)
    with SmtpServer() as smtp:
        text = world.config_path.read_text(encoding="utf-8")
        start, end = text.index("[email]"), text.index("[gateway]")
        email = (
            f'[email]\ntransport = "smtp"\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\n'
            'from = "Clinique du Parc <no-reply@example.org>"\n'
            'unsubscribe_url = "https://app.example.org/unsubscribe"\ntimeout_seconds = 3\n\n'
        )
        world.config_path.write_text(text[:start] + email + text[end:], encoding="utf-8")
        config = cfg.load(world.config_path, env={})
        ctx = context.for_current_user(config, world.clock)
        add_patients(1, start=9000)
        c = campaigns.create(ctx, "invitation", "Join")
        recipients.assign_ids(ctx, c.id, ["9000"])
        recipients.start(ctx, c.id)
        smtp.faults.append("lost-250")
        with Dispatcher(config, clock=world.clock) as d:
            await asyncio.to_thread(d.run_once)
            world.clock.at += timedelta(hours=1)
            await asyncio.to_thread(d.run_once)
        assert Counter(m.rcpt_tos[0] for m in smtp.messages) == {"p9000@example.org": 2}

        async with campaign_open(world, c.id, size=(120, 40)) as (app, pilot):
            screen = app.screen
            row = " ".join(str(x) for x in screen.table.get_row_at(0))
            assert "may have been delivered twice" in row and "12:00" in row and "13:00" in row, row
            screen.table.move_cursor(row=0)
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RecipientDetailModal)
            shown = " ".join(rendered(app.screen.query_one("#recipient-detail-body"), width=116).split())
            assert "a first copy went at 12:00 (its answer never came), the second was sent at 13:00" in shown
            assert "First copy" in shown, shown
