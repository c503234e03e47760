"""The words the TUI shows for a campaign and its recipients are what is true now
(issue #18, item 2), read from core's one definition — driven with Pilot at 80x24."""

from __future__ import annotations

from datetime import datetime

import pytest
from tui_helpers import (
    FrozenClock,
    app_for,
    campaign_open,
    copied_world,
    module_world,
    open_campaign,
    screen_text,
    settle,
    wait_for,
)

from core import conditions, context, recipients
from core import config as cfg
from core.models import Patient, Recipient
from tui.screens.add_patients import AddPatientsModal
from tui.screens.modals import ConfirmModal

pytestmark = pytest.mark.anyio


base_world = module_world("truth", n_patients=40)


world = copied_world


def header(app) -> str:
    return str(app.screen.query_one("#campaign-info").render()) + "\n" + str(app.screen.query_one("#counts").render())


async def test_a_live_broadcast_in_feeds_reads_published_not_draft(world):
    cid = world.campaigns.broadcast_live
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.rows[cid].status == "published"
        row = app.screen._order.index(cid)
        assert "published" in str(app.screen.query_one("DataTable").get_row_at(row))
        await open_campaign(pilot, cid)
        assert "· published ·" in header(app) and "draft" not in header(app)


async def test_stop_with_nothing_sent_reads_stopped_not_sent(world):
    cid = world.campaigns.broadcast_live
    recipients.start(world.ctx, cid)  # no scheduler in this world: nothing goes out
    async with campaign_open(world, cid) as (app, pilot):
        assert "sending" in header(app)
        await pilot.press("S")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await settle(pilot)
        assert await wait_for(pilot, lambda: "· stopped ·" in header(app)), header(app)
        assert " sent " not in header(app).split("\n")[0]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.rows[cid].status == "stopped"


async def test_the_header_adds_up_says_the_removed_apart_and_push_off_is_in_feed(world):
    cid = world.campaigns.broadcast_live
    assigned = list(Recipient.select().where(Recipient.campaign == cid, Recipient.status == "assigned"))
    Patient.update(push_enabled=False).where(Patient.id == assigned[0].patient_id).execute()
    removed = Patient.get_by_id(assigned[1].patient_id).emr_id
    recipients.remove(world.ctx, cid, removed)
    recipients.start(world.ctx, cid)
    async with campaign_open(world, cid) as (app, pilot):
        screen = app.screen
        s = screen.summary
        assert s is not None
        text = header(app)
        assert s.facts.feed_only >= 1 and f"in feed, no push {s.facts.feed_only}" in text
        assert f"total {s.total}" in text and "(+1 removed, not counted)" in text
        shown = dict(s.shown_counts())
        assert sum(shown.values()) == s.total
        assert f"skipped {shown['skipped']}" in text
        emr = Patient.get_by_id(assigned[0].patient_id).emr_id
        row = next(r for r in screen.table.loaded.values() if r.emr_id == emr)
        assert row.shown_status == "in feed, no push"
        assert await wait_for(pilot, lambda: "in feed, no push · push notifications off" in screen_text(app))


async def test_an_invitation_held_by_sending_hours_says_emails_wait(world):
    text = world.config_path.read_text(encoding="utf-8")
    text = text.replace('hours = "00:00-24:00"', 'hours = "09:00-20:00"')
    world.config_path.write_text(text, encoding="utf-8")
    world.clock = FrozenClock(datetime(2025, 6, 3, 3, 0))  # Monday 23:00 in Montréal
    ctx = context.for_current_user(cfg.load(world.config_path, env={}), world.clock)
    cid = world.campaigns.invitation_draft
    recipients.assign_conditions(ctx, cid, [conditions.parse("email is not empty")])
    assert recipients.start(ctx, cid).will_send > 0
    from core.scheduling.heartbeat import DAEMON, beat

    beat("host:1", DAEMON, world.clock())  # a daemon alive (nothing sending: no moment is promised)
    async with campaign_open(world, cid) as (app, pilot):
        label = str(app.screen.query_one("#progress-label").render())
        assert label.strip() == "Emails will go out Tuesday Jun 3 at 09:00, when sending hours begin", label
    # in French at 80 columns the words are longer than the row: they take two lines, whole
    # (one line lost « partira à partir d… », the moment it said)
    from core import preferences

    preferences.set_language(world.ctx, "fr")
    async with campaign_open(world, cid) as (app, pilot):
        held = app.screen.query_one("#progress-label")
        words = str(held.render())
        said = "Les courriels partiront mardi 3 juin à 09:00, au début des heures d'envoi"
        assert " ".join(words.split()) == said.replace("\u00a0", " "), words
        assert words.rstrip().split()[-1] in screen_text(app)


async def test_the_live_count_says_what_the_assign_will_do(world):
    cid = world.campaigns.broadcast_live
    async with campaign_open(world, cid) as (app, pilot):
        await pilot.press("a")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, AddPatientsModal)
        modal.query_one("#add-tabs").active = "tab-conditions"
        await settle(pilot)
        row = modal.query("ConditionRow").first()
        row.query_one(".cond-field").value = "connected_system"
        await settle(pilot, 0.4)
        row.query_one(".cond-op").value = "="
        await settle(pilot, 0.4)
        parts = row.parts()
        assert parts is not None
        p = recipients.preview_conditions(world.ctx, cid, [conditions.make(*parts)])
        assert p.skipped_reasons.get("no_marketing_consent")  # the demo has patients without consent
        assert await wait_for(pilot, lambda: p.line() in screen_text(app)), screen_text(app)
        assert f"{p.matched} match · {p.added} will be added" in p.line() and " added as skipped (" in p.line()


async def test_the_removed_count_agrees_with_its_number_in_french(world, tmp_path):
    """« (+1 retirés, non comptés) »: the count had a fixed plural; it is ngettext's (and
    a catalogue's singular said « (+2 retiré) » to a gettext that asked for no plural)."""
    from helpers import speaking_french

    cid = world.campaigns.broadcast_live
    two = Recipient.select().where(Recipient.campaign == cid, Recipient.status == "assigned").limit(2)
    for r in list(two):
        recipients.remove(world.ctx, cid, Patient.get_by_id(r.patient_id).emr_id)
    french = {
        ("(+{n} removed, not counted)",) * 2: ("(+{n} retiré, non compté)", "(+{n} retirés, non comptés)"),
    }
    with speaking_french(tmp_path / "locale", french):
        async with campaign_open(world, cid) as (app, pilot):
            app.switch_language("fr")
            await settle(pilot)
            assert "(+2 retirés, non comptés)" in header(app), header(app)


WAITING_FR = {
    (
        "{n} email will wait in the queue until the sending daemon runs — none is running now.",
        "{n} emails will wait in the queue until the sending daemon runs — none is running now.",
    ): (
        "{n} courriel attendra en file jusqu'à ce que le démon d'envoi tourne — aucun ne tourne en ce moment.",
        "{n} courriels attendront en file jusqu'à ce que le démon d'envoi tourne — aucun ne tourne en ce moment.",
    ),
}


async def test_the_start_says_the_emails_wait_when_nothing_sends_them(world, tmp_path):
    """Found in French at 80x24, no daemon alive and a staff member's TUI that does not
    send: the start dialog said « 1 006 courriels partiront maintenant », and nothing
    would send them. It says they wait in the queue for the sending daemon, before the
    start and in the notice after it (core's StartPlan, as the command line says it)."""
    from helpers import speaking_french

    from core import formats

    cid = world.campaigns.invitation_draft
    recipients.assign_conditions(world.ctx, cid, [conditions.parse("email is not empty")])
    with speaking_french(tmp_path / "locale", WAITING_FR):
        n = recipients.start_plan(world.ctx, cid).will_send
        assert n > 1
        said = (
            f"{formats.number(n)} courriels attendront en file jusqu'à ce que le démon d'envoi tourne"
            " — aucun ne tourne en ce moment."
        )
        async with campaign_open(world, cid) as (app, pilot):
            app.switch_language("fr")
            await settle(pilot)
            await pilot.press("s")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
            await settle(pilot)
            text = screen_text(app)
            assert said in text and "maintenant" not in text and "now" not in text, text
            await pilot.press("y")
            await settle(pilot)
            notices = [m.message for m in app._notifications]
            assert notices and notices[-1].startswith(said), notices
        assert Recipient.select().where(Recipient.campaign == cid, Recipient.status == "queued").count() == n


async def test_nothing_sending_a_re_invite_and_the_progress_row_promise_no_time(world):
    """A reviewer, no daemon alive and a TUI that does not send: the re-invite's dialog
    said « 2, now » and, once confirmed, the progress row « Sending: 0 of 2 done », and
    nothing would send them. The dialog says they go once the sending daemon runs, the row
    that they wait for it (core's StartPlan and held_words, with this session's scheduler;
    a daemon alive, as before: tests/test_status_truth.py)."""
    from datetime import timedelta

    cid = world.campaigns.invitation_sent
    world.clock.at += timedelta(days=15)  # their invitations expired unanswered
    n = recipients.reinvite_plan(world.ctx, cid).will_send
    assert n > 0
    async with campaign_open(world, cid) as (app, pilot):
        await pilot.press("i")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await settle(pilot)
        text = " ".join(screen_text(app).split())
        said = f"(new code, 14 days): {n}, once the sending daemon runs — none is running now"
        assert said in text and ", now" not in text, text
        await pilot.press("y")
        await settle(pilot)
        label = app.screen.query_one("#progress-label")
        waiting = "Emails wait in the queue until the sending daemon runs — none is running now"
        assert await wait_for(pilot, lambda: " ".join(str(label.render()).split()) == waiting), label.render()
        assert "Sending:" not in screen_text(app)
