"""An open TUI follows its config file (issue #18, item 4): a valid change applies at the
next tick (sending hours the next start schedules by, a permission taken away refuses
the next action), a broken one is said in the status line and the last good one kept.
A real file rewritten under a running Pilot app; each step waits for its tick's effect
(the tick is called, as the app's timer does, and its worker awaited), never a delay."""

from __future__ import annotations

from datetime import datetime

import pytest
from pseudo import screen_lines
from tui_helpers import (
    FrozenClock,
    app_for,
    copy_world,
    module_world,
    open_campaign,
    screen_text,
    settle,
    wait_for,
)

from core import conditions, recipients
from core.config.watch import ConfigWatch
from tui.screens.campaign_list import CampaignListScreen
from tui.screens.modals import ConfirmModal
from tui.screens.recipients import RecipientsScreen

pytestmark = pytest.mark.anyio
NIGHT = datetime(2025, 6, 3, 3, 0)  # Monday 23:00 in Montréal


base_world = module_world("reload", n_patients=40)


@pytest.fixture
def world(base_world, tmp_path, as_mlaval):
    w = copy_world(base_world, tmp_path / "w")
    w.clock = FrozenClock(NIGHT)
    return w


def rewrite(world, old: str, new: str) -> None:
    text = world.config_path.read_text(encoding="utf-8")
    assert old in text
    world.config_path.write_text(text.replace(old, new), encoding="utf-8")


async def tick(pilot) -> None:
    """One tick of the app (what its interval timer runs), then its workers finished."""
    pilot.app._tick()
    await settle(pilot)


def status_line(app) -> str:
    return str(app.screen.query_one("#status-who").render())


async def test_new_sending_hours_apply_to_the_next_start(world):
    cid = world.campaigns.invitation_draft
    recipients.assign_conditions(world.ctx, cid, [conditions.parse("email is not empty")])
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.ctx.config.sending.hours == "00:00-24:00"
        rewrite(world, 'hours = "00:00-24:00"', 'hours = "09:00-20:00"')
        await tick(pilot)
        assert app.ctx.config.sending.hours == "09:00-20:00"
        assert any("config file changed" in n.message for n in app._notifications)
        assert "⚠" not in status_line(app)
        await open_campaign(pilot, cid)
        assert isinstance(app.screen, RecipientsScreen)
        await pilot.press("s")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        # 23:00 on a Monday: the new hours hold the emails until Tuesday 09:00
        assert "will go out Tuesday Jun 3 at 09:00, when sending hours begin." in screen_text(app)


async def test_a_permission_taken_away_refuses_the_next_action(world):
    cid = world.campaigns.invitation_draft
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        rewrite(world, 'permissions = ["campaigns", "admin"]', "permissions = []")
        await tick(pilot)
        assert app.ctx.user.permissions == frozenset()
        await open_campaign(pilot, cid)
        assert await wait_for(
            pilot, lambda: any("lacks the 'campaigns' permission" in n.message for n in app._notifications)
        )


async def test_a_broken_config_is_said_and_the_last_good_one_kept(world):
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        good = app.ctx.config
        rewrite(world, 'hours = "00:00-24:00"', 'hours = "09:00-25:00"')
        await tick(pilot)
        assert app.ctx.config is good
        assert "config not applied, the last good one is in use" in app.config_state
        assert "hours" in app.config_state and str(world.config_path) not in app.config_state
        assert "⚠ config not applied" in status_line(app)
        # at 80 columns the file's folders pushed the problem itself off the status line:
        # the screen shows the file's name and the key at fault
        shown = screen_lines(app).replace("\xa0", " ")
        assert f"{world.config_path.name}: sending.hours" in shown, shown
        await pilot.press("r")  # the app goes on working under the last good config
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen) and app.screen.rows
        rewrite(world, 'hours = "09:00-25:00"', 'hours = "08:00-21:00"')  # fixed
        await tick(pilot)
        assert app.ctx.config.sending.hours == "08:00-21:00" and app.config_state == ""
        assert "⚠" not in status_line(app)


def test_the_watch_reads_a_changed_file_once_and_ignores_the_same_bytes(tmp_path):
    from tui_helpers import write_config

    path = write_config(tmp_path)
    watch = ConfigWatch(path)
    assert watch.check() is None
    text = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")  # saved again, same bytes: no change
    assert watch.check() is None
    path.write_text(text.replace('hours = "00:00-24:00"', 'hours = "09:00-20:00"'), encoding="utf-8")
    changed = watch.check()
    assert changed is not None and changed.config is not None and changed.config.sending.hours == "09:00-20:00"
    assert watch.check() is None  # once
    path.write_text("[clinic\n", encoding="utf-8")
    broken = watch.check()
    assert broken is not None and broken.broken and "\n" not in broken.problem
    assert broken.problem.startswith(f"{path.name}: ")
