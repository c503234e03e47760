"""Each status a campaign or a recipient shows is what is true now (issue #18, item 2),
from one definition in core (core.campaigns.status_of, RecipientRow.shown_status,
CampaignSummary.shown_counts / held): the TUI, the CLI and `--json` read the same.
Real SQLite and PostgreSQL, a real SMTP server and gateway, time controlled."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from helpers import add_patients, ctx_at
from servers import delivery_config

from core import campaigns, conditions, i18n, recipients
from core.delivery import Dispatcher
from core.enums import IN_FEED_NO_PUSH

T0 = datetime(2026, 3, 2, 15, 0, 0)  # 10:00 in Toronto, a Monday
NIGHT = datetime(2026, 3, 3, 3, 0, 0)  # Monday 22:00 in Toronto: outside 09:00-20:00
TPL = {
    "fr": {"title": "Vaccins", "body": "Vaccins.", "push": "Un message"},
    "en": {"title": "Flu shots", "body": "Flu shots.", "push": "A message"},
}
CLINIC_HOURS = {"hours": "09:00-20:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]}


@pytest.fixture
def world(db, db_url, tmp_path, smtp, gw):
    """(ctx, clock, dispatcher factory) on this test's database and servers."""
    made: list[Dispatcher] = []
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    ctx, clock = ctx_at(config, T0)

    def make(**kw):
        d = Dispatcher(delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, **kw), clock=clock)
        made.append(d)
        return d

    yield ctx, clock, make
    for d in made:
        d.close()


def broadcast(ctx, name="Vaccins"):
    return campaigns.create(ctx, "broadcast", name, date(2026, 3, 1), date(2026, 3, 6), templates=TPL)


def by_status(ctx) -> dict[str, int]:
    """`clinicast status`'s campaigns by status: the same words as the list's."""
    from core import status

    return status.overview(ctx)["campaigns"]["by_status"]


def test_a_broadcast_in_feeds_never_pushed_is_published_not_draft(world):
    ctx, _clock, make = world
    add_patients(3, app_id=lambda i: f"a-{i}")
    b = broadcast(ctx)
    assert campaigns.summary(ctx, b.id).status == "draft"  # nobody yet
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002"])  # the window is open: in their feeds
    make().run_once()
    s = campaigns.summary(ctx, b.id)
    assert (s.status, s.window_state) == ("published", "live")
    assert [x.status for x in campaigns.summaries(ctx) if x.id == b.id] == ["published"]
    assert s.to_json()["status"] == "published"
    assert by_status(ctx) == {"published": 1}  # `clinicast status` says so too


def test_stopped_with_nothing_sent_is_stopped_not_sent(world):
    ctx, _clock, _make = world
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
    recipients.start(ctx, c.id)
    assert campaigns.summary(ctx, c.id).status == "sending"
    recipients.stop(ctx, c.id)  # before any dispatcher ran: nothing went out
    s = campaigns.summary(ctx, c.id)
    assert s.counts == {"assigned": 3} and s.status == "stopped"
    assert by_status(ctx) == {"stopped": 1}  # `clinicast status` read « sent » (no facts)
    recipients.start(ctx, c.id)  # a later start sends to them: sending again, not stopped
    assert campaigns.summary(ctx, c.id).status == "sending"


def test_an_invitation_held_by_sending_hours_says_emails_wait(db, db_url, tmp_path, smtp):
    config = delivery_config(db_url, tmp_path, smtp=smtp, sending=CLINIC_HOURS)
    ctx, clock = ctx_at(config, NIGHT)
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    assert campaigns.summary(ctx, c.id).held == ""  # nothing started: nothing held
    recipients.start(ctx, c.id)
    from core.scheduling.heartbeat import DAEMON, beat

    beat("host:1", DAEMON, clock())  # a daemon alive (nothing sending: no moment is promised)
    held = campaigns.summary(ctx, c.id).held
    # one sentence: when they leave, and why not before
    assert held == "Emails will go out Tuesday Mar 3 at 09:00, when sending hours begin"
    assert "Push" not in held


def test_counts_add_up_to_the_total_and_say_the_removed_apart(world):
    ctx, _clock, make = world
    add_patients(3, app_id=lambda i: f"a-{i}")
    add_patients(2, 2000, app_id=lambda i: f"a-{i}", push_enabled=False)  # push off: in the feed only
    add_patients(1, 3000, app_id="a-3000", marketing_consent=False)  # skipped: not in the feed
    b = broadcast(ctx)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002", "2000", "2001", "3000"])
    recipients.remove(ctx, b.id, "1002")
    recipients.start(ctx, b.id)
    make().run_once()
    s = campaigns.summary(ctx, b.id)
    shown = dict(s.shown_counts())
    assert shown["sent"] == 2 and shown[IN_FEED_NO_PUSH] == 2 and shown["skipped"] == 1
    assert sum(shown.values()) == s.total == 5 and "removed" not in shown and s.removed == 1
    assert s.counts["skipped"] == 3  # --json keeps the spec's statuses
    rows = {r.emr_id: r for r in recipients.page(ctx, b.id)}
    assert rows["2000"].shown_status == IN_FEED_NO_PUSH and rows["2000"].to_json()["status"] == "skipped"
    assert rows["3000"].shown_status == "skipped" and rows["1000"].shown_status == "sent"
    # their detail says the same words as the ledger (one definition, core)
    detail = recipients.detail(ctx, b.id, rows["2000"].id)
    assert detail.status == "skipped" and detail.shown_status == IN_FEED_NO_PUSH
    assert recipients.detail(ctx, b.id, rows["3000"].id).shown_status == "skipped"


def test_a_greylisted_invitation_is_not_invited_until_it_goes_out(world, smtp):
    ctx, clock, make = world
    add_patients(2)
    c = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, c.id, ["1000", "1001"])
    recipients.start(ctx, c.id)
    smtp.faults += ["451 4.7.1 greylisted, try again later"]
    d = make(scheduler={"max_attempts": 3})
    d.run_once()
    s = campaigns.summary(ctx, c.id)
    assert s.counts == {"sent": 1, "retrying": 1}
    assert s.funnel is not None and s.funnel["invited"] == 1  # the greylisted one waits
    clock.advance(minutes=1)
    d.run_once()
    s = campaigns.summary(ctx, c.id)
    assert s.counts == {"sent": 2} and s.funnel is not None and s.funnel["invited"] == 2


def test_the_preview_before_an_assign_counts_what_the_assign_then_does(world):
    ctx, _clock, _make = world
    add_patients(5, app_id=lambda i: f"a-{i}")
    add_patients(2, 2000, app_id=lambda i: f"a-{i}", marketing_consent=False)
    add_patients(1, 3000)  # no app account
    b = broadcast(ctx)
    recipients.assign_ids(ctx, b.id, ["1000", "2000"])  # already there; 2000 skipped (no consent), and stays so
    conds = [conditions.parse("email is not empty")]
    p = recipients.preview_conditions(ctx, b.id, conds)
    assert (p.matched, p.added, p.already_assigned) == (8, 4, 1)
    assert p.skipped_reasons == {"no_marketing_consent": 2, "no_app_account": 1}
    # the patients a consent rule skips in the product's one wording (« ajoutés comme
    # écartés »: on the campaign, they will receive nothing), as the assign then says it
    assert p.line() == (
        "8 match · 4 will be added · 1 already there · "
        "2 added as skipped (1 with no app account, 1 with no marketing consent) · "
        "1 already there and still skipped (no marketing consent)"
    )
    i18n.use("fr")
    try:
        assert p.line() == (
            "8 correspondent · 4 seront ajoutés · 1 déjà présent · "
            "2 ajoutés comme écartés (1 sans compte dans l'application, 1 sans consentement) · "
            "1 déjà présent et toujours écarté (sans consentement)"
        ), p.line()
    finally:
        i18n.use("en")
    done = recipients.assign_conditions(ctx, b.id, conds)
    assert (done.added, done.already_assigned, done.skipped_reasons) == (4, 1, p.skipped_reasons)
    assert done.skipped_added == p.skipped_added
    from core.recipients.results import added_as_skipped  # the one wording, of the preview and the result

    assert added_as_skipped(p.skipped_added) in p.line() and added_as_skipped(done.skipped_added) in done.words()


def test_an_opt_out_recorded_after_the_assign_shows_before_the_start(world):
    """Found at the desk (a broadcast whose window opens tomorrow): staff record a
    patient's opt-out of everything, and their row still read « assigné », the header
    « assigné 40 », their detail said nothing — staff believed the opt-out did not take.
    Consent is checked again at the start (SPEC §4), so nothing is stored before it; the
    row, the detail and the counts say now that they will receive nothing, and why. An
    opt-out of the push alone leaves them assigned (the message will be in their feed),
    the reason said beside. `--json` keeps the stored status and reason."""
    from core.enums import WILL_RECEIVE_NOTHING
    from core.optouts import ledger

    ctx, _clock, _make = world
    add_patients(4, app_id=lambda i: f"a-{i}")
    b = campaigns.create(ctx, "broadcast", "Demain", date(2026, 3, 3), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002", "1003"])
    ledger.record(ctx, "1001", "all", "au téléphone")
    ledger.record(ctx, "1002", "push", "à l'accueil")

    rows = {r.emr_id: r for r in recipients.page(ctx, b.id)}
    assert rows["1001"].status == "assigned" and rows["1001"].shown_status == WILL_RECEIVE_NOTHING
    assert rows["1001"].reason() == "opted out of the app's messages on Mar 2, 2026 (recorded by staff)"
    assert rows["1001"].to_json()["status"] == "assigned" and rows["1001"].to_json()["reason"] == ""
    assert rows["1001"].to_json()["reason_text"] == ""
    assert rows["1002"].shown_status == "assigned"  # in their feed all the same, without the push
    assert rows["1002"].reason().startswith("opted out of push notifications on Mar 2, 2026")
    assert rows["1000"].shown_status == "assigned" and rows["1000"].shown_reason_code == ""

    detail = recipients.detail(ctx, b.id, rows["1001"].id)
    assert (detail.status, detail.shown_status) == ("assigned", WILL_RECEIVE_NOTHING)
    assert detail.reason == rows["1001"].reason()

    s = campaigns.summary(ctx, b.id)
    shown = dict(s.shown_counts())
    assert shown["assigned"] == 3 and shown[WILL_RECEIVE_NOTHING] == 1 and sum(shown.values()) == s.total == 4
    assert s.counts == {"assigned": 4}  # --json: the stored statuses

    # the start then stores what the row said
    recipients.start(ctx, b.id)
    rows = {r.emr_id: r for r in recipients.page(ctx, b.id)}
    assert (rows["1001"].status, rows["1001"].reason_code) == ("skipped", "opted_out_feed")
    assert rows["1002"].shown_status == IN_FEED_NO_PUSH


def test_the_start_says_how_many_go_and_when_then_apart_who_goes_without_the_push(world):
    """Found in French at 80 columns: « Seront envoyées : 40 (notifications), à
    l'ouverture de la période : partira à partir de mardi 00:00 », then « Exclus : 20 ·
    notifications désactivées » for patients who DO get the message in their feed, and
    « 20 exclus (à l'ouverture…) » once started. Each sentence now says one thing: how
    many go and when; who goes without the push (in their feed all the same); who is
    skipped and why, each reason agreeing with its count."""
    from core.optouts import ledger

    ctx, clock, _make = world
    add_patients(3, app_id=lambda i: f"a-{i}")
    add_patients(2, 2000, app_id=lambda i: f"a-{i}", push_enabled=False)
    add_patients(1, 3000, app_id="a-3000")
    b = campaigns.create(ctx, "broadcast", "Demain", date(2026, 3, 3), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["1000", "1001", "1002", "2000", "2001", "3000"])
    ledger.record(ctx, "3000", "all", "au téléphone")
    first = "3 push notifications will go out Tuesday Mar 3 at 00:00, when the window opens."
    push_only = "Without a push notification: 2 (the message shows in their feed all the same)"
    assert recipients.start_plan(ctx, b.id).breakdown().splitlines() == [
        first,
        push_only,
        "  2 with push notifications off",
        "Skipped: 1 (will receive nothing)",
        "  1 opted out of the app's messages",
        "Already sent (not sent again): 0",
    ]
    done = recipients.start(ctx, b.id)
    assert done.done().splitlines() == [first, push_only, "Skipped: 1 (will receive nothing)"]
    assert (
        done.to_json()["sending_begins"] == "when the window opens: will go out from Tuesday 00:00"
    )  # --json as it was
    from core.scheduling.heartbeat import DAEMON, beat

    beat("host:1", DAEMON, clock())  # a daemon alive (nothing sending: no moment is promised)
    assert campaigns.summary(ctx, b.id).held == "Pushes will go out Tuesday Mar 3 at 00:00, when the window opens"


def test_a_start_says_they_wait_for_the_daemon_when_nothing_sends_them(db, db_url, tmp_path, smtp, gw):
    """« 50 courriels partiront maintenant » with no daemon alive and a session that does
    not send (the command line never does): the start's words say they wait in the queue
    until the sending daemon runs — decided once in core (StartPlan, from the heartbeats
    core.status reads), the TUI's dialog and the command line both. A live daemon: "now";
    held by sending hours: when, as before."""
    from click.testing import CliRunner

    from cli import cli
    from core.scheduling.heartbeat import DAEMON, beat

    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw)
    ctx, clock = ctx_at(config, T0)
    add_patients(3)
    add_patients(2, 2000, app_id=lambda i: f"a-{i}")
    c = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
    waiting = "3 emails will wait in the queue until the sending daemon runs — none is running now."
    plan = recipients.start_plan(ctx, c.id)
    assert plan.breakdown().splitlines()[0] == waiting and plan.done().splitlines()[0] == waiting
    b = broadcast(ctx)
    recipients.assign_ids(ctx, b.id, ["2000", "2001"])
    assert recipients.start_plan(ctx, b.id).sending_line() == (
        "2 push notifications will wait in the queue until the sending daemon runs — none is running now."
    )

    # this session's embedded scheduler running (a TUI allowed to send): they go now
    from core.scheduling.embedded import EmbeddedScheduler

    embedded = EmbeddedScheduler(config, clock=clock)
    assert embedded.start()
    try:
        assert recipients.start_plan(ctx, c.id, embedded).sending_line() == "3 emails will go out now."
    finally:
        embedded.stop()
    assert recipients.start_plan(ctx, c.id, embedded).sending_line() == waiting  # stopped: nothing sends

    beat("host:1", DAEMON, clock())  # a daemon alive: they go now
    assert recipients.start_plan(ctx, c.id).sending_line() == "3 emails will go out now."
    clock.advance(seconds=3 * config.scheduler.heartbeat_seconds + 1)  # its heartbeat stale: it died
    assert recipients.start_plan(ctx, c.id).sending_line() == waiting

    # the command line (on the real clock, the heartbeat long stale) starts it and says so
    path = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, as_toml=True)
    r = CliRunner().invoke(cli, ["campaigns", "start", str(c.id), "--config", str(path)])
    assert r.exit_code == 0, r.output
    assert f"  {waiting}\n" in r.output and "now." not in r.output.replace(waiting, ""), r.output
    assert campaigns.summary(ctx, c.id).counts == {"queued": 3}  # queued all the same, never refused

    # held by sending hours, nothing sending: when they go, as it was said
    night = delivery_config(db_url, tmp_path, smtp=smtp, sending=CLINIC_HOURS)
    ctx, _clock = ctx_at(night, NIGHT)
    later = campaigns.create(ctx, "invitation", "Later")
    recipients.assign_ids(ctx, later.id, ["1000", "1001", "1002"])
    assert recipients.start_plan(ctx, later.id).sending_line() == (
        "3 emails will go out Tuesday Mar 3 at 09:00, when sending hours begin."
    )


def test_nothing_sending_the_pace_the_progress_and_a_re_invite_promise_no_time(db, db_url, tmp_path, smtp):
    """A reviewer, no daemon alive and a session that does not send: the start said the
    emails wait for the daemon, but its pace line went on « the last email leaves around
    14:03 », the progress row « Sending: 0 of 3 done », a re-invite « 2, now ». Nothing
    sending, none of them promises a time (core's one rule, StartPlan.nobody_sends and
    held_words, from core.scheduling.heartbeat.something_sends); a live daemon: the times, as before.
    `--json` says `nobody_sends`: `sending_begins` null does not mean "at once" then."""
    import json
    from datetime import timedelta

    from click.testing import CliRunner

    from cli import cli
    from core.models import Invitation
    from core.scheduling.heartbeat import DAEMON, beat

    email = {"max_per_minute": 30, "max_per_day": 10000}
    config = delivery_config(db_url, tmp_path, smtp=smtp, email=email)
    ctx, clock = ctx_at(config, T0)
    add_patients(4)
    add_patients(2, 2000, app_id=lambda i: f"a-{i}")
    c = campaigns.create(ctx, "invitation", "Invite")
    recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
    caps = "at most 30 emails a minute and 10,000 a day (the relay's limits)"  # as `status` says them
    plan = recipients.start_plan(ctx, c.id)
    assert plan.pace == caps and "around" not in plan.breakdown(), plan.breakdown()
    assert plan.to_json()["nobody_sends"] is True
    beat("host:1", DAEMON, clock())  # a daemon alive: when the last leaves
    plan = recipients.start_plan(ctx, c.id)
    assert plan.pace == "at the relay's pace (30 a minute, 10,000 a day), the last email leaves around 10:00"
    assert plan.to_json()["nobody_sends"] is False
    clock.advance(seconds=3 * config.scheduler.heartbeat_seconds + 1)  # it died

    # started, nothing sending: the progress row's words say they wait, with no moment
    recipients.start(ctx, c.id)
    waiting = "Emails wait in the queue until the sending daemon runs — none is running now"
    assert campaigns.summary(ctx, c.id).held == waiting
    beat("host:1", DAEMON, clock())  # a daemon alive: « Sending: 0 of 3 done » (nothing held)
    assert campaigns.summary(ctx, c.id).held == ""
    d = Dispatcher(config, clock=clock)
    try:
        d.run_once()  # the three invitations go out
    finally:
        d.close()
    b = campaigns.create(ctx, "broadcast", "Demain", date(2026, 3, 3), date(2026, 3, 6), templates=TPL)
    recipients.assign_ids(ctx, b.id, ["2000", "2001"])
    recipients.start(ctx, b.id)  # held until its window opens tomorrow
    assert campaigns.summary(ctx, b.id).held.startswith("Pushes will go out Tuesday Mar 3")  # a daemon alive
    clock.advance(seconds=3 * config.scheduler.heartbeat_seconds + 1)  # it died: no moment, held or not
    assert campaigns.summary(ctx, b.id).held == waiting.replace("Emails", "Pushes")

    # a re-invite, nothing sending: not "now"; its result says they wait (as a start's)
    Invitation.update(expires_at=clock() - timedelta(days=1)).execute()
    plan = recipients.reinvite_plan(ctx, c.id)
    assert plan.reinvite_lines()[0] == (
        "Will be sent a fresh invitation (new code, 14 days): 3, once the sending daemon runs — none is running now"
    )
    beat("host:1", DAEMON, clock())
    assert recipients.reinvite_plan(ctx, c.id).reinvite_lines()[0].endswith(": 3, now")
    clock.advance(seconds=3 * config.scheduler.heartbeat_seconds + 1)
    done = recipients.reinvite(ctx, c.id)
    assert done.reinvited_lines()[:2] == [
        "Re-invited: 3 fresh invitations queued",
        "3 emails will wait in the queue until the sending daemon runs — none is running now.",
    ]

    # the command line (no daemon on the real clock): start --json says nobody sends
    path = delivery_config(db_url, tmp_path, smtp=smtp, email=email, as_toml=True)
    later = campaigns.create(ctx, "invitation", "Later")
    recipients.assign_ids(ctx, later.id, ["1003"])
    r = CliRunner().invoke(cli, ["campaigns", "start", str(later.id), "--json", "--config", str(path)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["nobody_sends"] is True and json.loads(r.output)["pace"] == caps
