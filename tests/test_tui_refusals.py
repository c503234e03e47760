"""A permission taken away while the TUI is open refuses the next action (issue #22 item 1,
issue #18 item 4): the staff member opens the TUI holding `campaigns` (and `admin`), an
administrator rewrites the config, the app reads it at its next tick (core/config/watch.py),
and every action that reads or changes patient data is then refused with one notice
naming the permission, the database unchanged.

Two ways in per action where it has a confirmation: the key pressed after the permission
went (the plan is refused), and the permission taken away while the confirmation is open
(the change itself is refused: the core checks again, whatever the screen asked before).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from textual import events
from textual.widgets import DataTable
from tui_helpers import (
    FrozenClock,
    app_for,
    campaign_open,
    copy_world,
    module_world,
    settle,
    wait_for,
)

from core import recipients
from core.models import database
from tui.screens.add_patients import AddPatientsModal
from tui.screens.audit import AuditScreen
from tui.screens.campaign_list import CampaignListScreen
from tui.screens.modals import ConfirmModal
from tui.screens.opt_out import OptOutModal

pytestmark = pytest.mark.anyio
FULL = 'permissions = ["campaigns", "admin"]'


base_world = module_world("refusals", n_patients=40)


@pytest.fixture
def world(base_world, tmp_path, as_mlaval):
    w = copy_world(base_world, tmp_path / "w")
    w.clock = FrozenClock(base_world.clock.at)
    return w


def dump(world) -> str:
    """Every row of every table: a refusal writes nothing (not even an audit row)."""
    database.close()  # the app's connection reopens on its next query
    con = sqlite3.connect(world.folder / "clinicast.db")
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


async def take_away(pilot, world, permissions: str = "[]") -> None:
    """The administrator edits the config; the app's next tick applies it."""
    text = world.config_path.read_text(encoding="utf-8")
    assert FULL in text
    world.config_path.write_text(text.replace(FULL, f"permissions = {permissions}"), encoding="utf-8")
    pilot.app._tick()  # what the app's interval timer runs
    await settle(pilot)
    assert pilot.app.ctx.user.permissions == frozenset(p.strip('" ') for p in permissions.strip("[]").split(",") if p)
    said = [n.message for n in pilot.app._notifications]
    # what the screen was reading when the permission went is refused too, rightly (seen once
    # under two CPU burners on the recipients of a campaign being sent): nothing else is said
    assert said[:1] == ["The config file changed: its new settings apply now."], said
    assert len(refusals(pilot.app)) == len(said) - 1, said
    pilot.app.clear_notifications()  # from here, what the action says


def hold_still(screen) -> None:
    """The screen's own refresh timer would read (and be refused) at a moment the test does
    not choose: paused, so the notice counted is the action's."""
    for timer in list(screen._timers):
        timer.pause()


def refusals(app, permission: str = "campaigns") -> list[str]:
    return [n.message for n in app._notifications if f"lacks the '{permission}' permission" in n.message]


async def refused_once(pilot, permission: str = "campaigns") -> None:
    app = pilot.app
    assert await wait_for(pilot, lambda: refusals(app, permission)), [n.message for n in app._notifications]
    await settle(pilot)
    assert len(refusals(app, permission)) == 1, [n.message for n in app._notifications]
    assert len(list(app._notifications)) == 1, [n.message for n in app._notifications]  # nothing else said


async def started(pilot, app) -> None:
    await settle(pilot)
    hold_still(app.screen)
    # a tick that fired during settle's last pause started a read: it ends here, before the
    # permission goes (under load it read after, and its refusal was one notice too many)
    await settle(pilot)
    app.clear_notifications()


def prepare(world, action: str, cid: int) -> None:
    """What the action needs to have something to do (the scheduler is off: nothing sends)."""
    if action in ("start", "stop"):
        recipients.assign_ids(world.ctx, cid, ["100001", "100002"])
    if action == "stop":
        recipients.start(world.ctx, cid)  # two emails waiting to go
    if action == "re-invite":  # three weeks on: the invitations sent have expired
        world.clock.at += timedelta(days=21)


# (key pressed after the permission went, on a campaign's recipient screen)
RECIPIENT_KEYS = {
    "start": ("invitation_draft", "s"),
    "stop": ("invitation_draft", "S"),
    "remove": ("broadcast_live", "x"),
    "re-invite": ("invitation_sent", "i"),
    "export the ledger": ("invitation_sent", "E"),
    "a recipient in full": ("invitation_sent", "enter"),
    "send a test": ("invitation_sent", "T"),
    "the templates": ("invitation_sent", "t"),
    "refresh the recipients": ("broadcast_live", "r"),
}


@pytest.mark.parametrize("action", sorted(RECIPIENT_KEYS))
async def test_a_recipient_screen_action_is_refused_after_the_permission_went(world, action):
    which, key = RECIPIENT_KEYS[action]
    cid = getattr(world.campaigns, which)
    prepare(world, action, cid)
    async with campaign_open(world, cid, size=(120, 40)) as (app, pilot):
        await started(pilot, app)
        before = dump(world)
        await take_away(pilot, world)
        await pilot.press(key)
        await refused_once(pilot)
        assert not isinstance(app.screen, ConfirmModal)  # refused before asking anything
    assert dump(world) == before


# (the confirmation opened while allowed; the permission goes; then `y`)
CONFIRMED = {
    "start": ("invitation_draft", "s"),
    "stop": ("invitation_draft", "S"),
    "remove": ("broadcast_live", "x"),
    "re-invite": ("invitation_sent", "i"),
}


@pytest.mark.parametrize("action", sorted(CONFIRMED))
async def test_a_change_confirmed_after_the_permission_went_is_refused(world, action):
    which, key = CONFIRMED[action]
    cid = getattr(world.campaigns, which)
    prepare(world, action, cid)
    async with campaign_open(world, cid, size=(120, 40)) as (app, pilot):
        await started(pilot, app)
        await pilot.press(key)
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal)), [
            n.message for n in app._notifications
        ]
        before = dump(world)
        await take_away(pilot, world)
        await pilot.press("y")
        await refused_once(pilot)
    assert dump(world) == before


async def test_an_opt_out_recorded_after_the_permission_went_is_refused(world):
    async with campaign_open(world, world.campaigns.broadcast_live, size=(120, 40)) as (app, pilot):
        await started(pilot, app)
        await pilot.press("o")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OptOutModal))
        app.screen.query_one("#opt-out-note").value = "par téléphone"
        before = dump(world)
        await take_away(pilot, world)
        await pilot.press("ctrl+o")
        await refused_once(pilot)
    assert dump(world) == before


async def test_adding_patients_after_the_permission_went_is_refused(world):
    """The Add dialog says a refusal in the dialog, beside what was typed or pasted: a list
    read while allowed, then assigned after the permission went; a list pasted after."""
    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid, size=(120, 40)) as (app, pilot):
        await started(pilot, app)
        await pilot.press("a")
        assert await wait_for(pilot, lambda: isinstance(app.screen, AddPatientsModal))
        modal = app.screen
        modal.query_one("#add-tabs").active = "tab-csv"
        await settle(pilot)
        modal.query_one("#csv-path").focus()
        app.post_message(events.Paste("100001\n100002\n"))  # a bracketed paste of two ids
        assert await wait_for(pilot, lambda: modal.report is not None and len(modal.report.found) == 2)
        before = dump(world)
        await take_away(pilot, world)

        def said() -> str:
            return str(modal.query_one("#add-message").render())

        await pilot.press("ctrl+o")  # assign what was read while allowed
        assert await wait_for(pilot, lambda: "lacks the 'campaigns' permission" in said()), said()
        assert app.screen is modal and not list(app._notifications)  # said once, in the dialog
        modal._message("")
        app.post_message(events.Paste("100003\n100004\n"))
        assert await wait_for(pilot, lambda: "lacks the 'campaigns' permission" in said()), said()
        assert not list(app._notifications)
    assert dump(world) == before


async def test_opening_a_campaign_after_the_permission_went_is_refused(world):
    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        screen = app.screen
        screen.query_one(DataTable).move_cursor(row=screen._order.index(world.campaigns.invitation_sent))
        before = dump(world)
        await take_away(pilot, world)
        await pilot.press("enter")
        await refused_once(pilot)  # the campaign's screen, empty, and one notice
    assert dump(world) == before


async def test_the_audit_log_after_admin_went_is_refused(world):
    """An admin action: the audit screen open, `admin` taken away (campaigns kept): its
    refresh is refused, said on the screen; and `l` no longer opens it from the list."""
    app = app_for(world)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        assert await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        await started(pilot, app)
        before = dump(world)
        await take_away(pilot, world, '["campaigns"]')

        def said() -> str:
            return str(app.screen.query_one("#audit-note").render())

        await pilot.press("r")
        assert await wait_for(pilot, lambda: "lacks the 'admin' permission" in said()), said()
        assert not list(app._notifications)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, CampaignListScreen)  # the key is gone with the permission
    assert dump(world) == before
