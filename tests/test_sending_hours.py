"""Sending hours (SPEC §11): emails and pushes — first sends and retries — leave only
inside `[sending] hours` and `days`, in the clinic's time zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import add_patients, ctx_at, status_counts
from servers import delivery_config

from core import campaigns, recipients, sending_hours
from core import config as cfg
from core.delivery import Dispatcher
from core.errors import ConfigError
from core.models import Delivery, Recipient

TZ = ZoneInfo("America/Toronto")
CLINIC = {"hours": "09:00-20:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"]}
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def utc(y, mo, d, h, mi=0) -> datetime:
    """Naive UTC of a wall-clock time in Toronto."""
    return datetime(y, mo, d, h, mi, tzinfo=TZ).astimezone(UTC).replace(tzinfo=None)


def allowed(hours: str, days: list[str], when: datetime) -> datetime:
    h, problems = sending_hours.parse(hours, days)
    assert not problems
    return sending_hours.first_allowed_in(h, TZ, when)


class TestFirstAllowed:
    def test_inside_the_hours_is_now(self):
        when = utc(2026, 3, 4, 9, 0)  # a Wednesday, 09:00 sharp
        assert allowed("09:00-20:00", EVERY_DAY, when) == when
        assert allowed("09:00-20:00", EVERY_DAY, utc(2026, 3, 4, 19, 59)) == utc(2026, 3, 4, 19, 59)

    def test_the_end_is_excluded_and_the_next_morning_follows(self):
        assert allowed("09:00-20:00", EVERY_DAY, utc(2026, 3, 4, 20, 0)) == utc(2026, 3, 5, 9, 0)
        assert allowed("09:00-20:00", EVERY_DAY, utc(2026, 3, 4, 23, 30)) == utc(2026, 3, 5, 9, 0)
        assert allowed("09:00-20:00", EVERY_DAY, utc(2026, 3, 5, 3, 0)) == utc(2026, 3, 5, 9, 0)

    def test_days_not_listed_are_skipped(self):
        # Saturday 21:00 -> Monday 09:00 with the clinic's default days (no Sunday)
        assert allowed(CLINIC["hours"], CLINIC["days"], utc(2026, 3, 7, 21, 0)) == utc(2026, 3, 9, 9, 0)
        assert allowed("09:00-20:00", ["fri"], utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 13, 9, 0)

    def test_spring_forward_in_toronto(self):
        # Saturday 2026-03-07 23:30 EST; Sunday 09:00 is EDT (UTC-4): 13:00 UTC, not 14:00
        assert allowed("09:00-20:00", EVERY_DAY, utc(2026, 3, 7, 23, 30)) == datetime(2026, 3, 8, 13, 0)
        # the window ends at 20:00 EDT = 00:00 UTC the next day
        assert allowed("09:00-20:00", EVERY_DAY, datetime(2026, 3, 8, 23, 59)) == datetime(2026, 3, 8, 23, 59)
        assert allowed("09:00-20:00", EVERY_DAY, datetime(2026, 3, 9, 0, 0)) == datetime(2026, 3, 9, 13, 0)
        # a start inside the missing hour (02:00-03:00) opens at the first real moment: 03:00 EDT
        assert allowed("02:30-05:00", EVERY_DAY, datetime(2026, 3, 8, 5, 0)) == datetime(2026, 3, 8, 7, 0)

    def test_fall_back_in_toronto(self):
        # Saturday 2026-10-31 23:30 EDT; Sunday 09:00 is EST (UTC-5): 14:00 UTC
        assert allowed("09:00-20:00", EVERY_DAY, utc(2026, 10, 31, 23, 30)) == datetime(2026, 11, 1, 14, 0)
        # 19:30 EST on Nov 1 is 00:30 UTC Nov 2: still inside; 20:00 EST (01:00 UTC) is not
        assert allowed("09:00-20:00", EVERY_DAY, datetime(2026, 11, 2, 0, 30)) == datetime(2026, 11, 2, 0, 30)
        assert allowed("09:00-20:00", EVERY_DAY, datetime(2026, 11, 2, 1, 0)) == datetime(2026, 11, 2, 14, 0)

    def test_any_time(self):
        when = datetime(2026, 3, 8, 7, 30)
        assert allowed("00:00-24:00", EVERY_DAY, when) == when
        # up to midnight on a listed day, then the next listed one
        assert allowed("00:00-24:00", ["sun"], utc(2026, 3, 8, 23, 59)) == utc(2026, 3, 8, 23, 59)
        assert allowed("00:00-24:00", ["sun"], utc(2026, 3, 9, 0, 0)) == utc(2026, 3, 15, 0, 0)


class TestConfig:
    def base(self, sending: dict) -> dict:
        return {
            "clinic": {"name": "c"},
            "database": {"url": "sqlite:///x.db"},
            "gateway": {"transport": "log", "path": "g.log"},
            "email": {"transport": "maildir", "path": "mail"},
            "sending": sending,
        }

    @pytest.mark.parametrize(
        ("sending", "words"),
        [
            ({"hours": "9-20"}, "sending.hours: expected “HH:MM-HH:MM”"),
            ({"hours": "09:00 to 20:00"}, "sending.hours: expected “HH:MM-HH:MM”"),
            ({"hours": "09:00-25:00"}, "sending.hours: expected"),
            ({"hours": "09:60-20:00"}, "sending.hours: expected"),
            ({"hours": "20:00-09:00"}, "sending.hours: the range “20:00-09:00” is empty"),
            ({"hours": "09:00-09:00"}, "sending.hours: the range “09:00-09:00” is empty"),
            ({"days": ["mon", "lundi"]}, "sending.days: unknown day 'lundi'"),
            ({"days": []}, "sending.days: expected a non-empty list"),
            ({"hours": 9}, "sending.hours: expected a string"),
        ],
    )
    def test_bad_values_name_the_key(self, sending, words):
        with pytest.raises(ConfigError) as e:
            cfg.from_dict(self.base(sending), env={})
        assert words in str(e.value)
        assert len([p for p in e.value.problems if p.startswith("sending.")]) == 1  # said once

    def test_good_values(self):
        c = cfg.from_dict(self.base({"hours": "07:30-24:00", "days": ["Sun", "sat"]}), env={})
        assert c.sending.days == ("sun", "sat")
        assert sending_hours.first_allowed(c, utc(2026, 3, 7, 7, 0)) == utc(2026, 3, 7, 7, 30)

    def test_config_check_names_the_key(self, tmp_path, sqlite_url):
        from click.testing import CliRunner
        from conftest import write_config

        from cli import cli

        p = write_config(tmp_path, sqlite_url, extra='[sending]\nhours = "20:00-09:00"\n')
        r = CliRunner().invoke(cli, ["config", "check", "--config", str(p)])
        assert r.exit_code == 2
        assert "sending.hours" in r.output and "Traceback" not in r.output


# --- through the dispatcher ---------------------------------------------------------------


def setup(db_url, tmp_path, smtp, gw, at, **scheduler):
    config = delivery_config(db_url, tmp_path, smtp=smtp, gateway=gw, sending=CLINIC, scheduler=scheduler or None)
    ctx, clock = ctx_at(config, at)
    return ctx, clock, Dispatcher(config, clock=clock)


class TestDispatch:
    def test_a_start_at_2330_waits_until_0900_then_everything_goes_once(self, db, db_url, tmp_path, smtp, gw):
        ctx, clock, d = setup(db_url, tmp_path, smtp, gw, utc(2026, 3, 4, 23, 30))  # a Wednesday
        with d:
            add_patients(5)
            c = campaigns.create(ctx, "invitation", "Invite")
            recipients.assign_ids(ctx, c.id, [str(i) for i in range(1000, 1005)])
            plan = recipients.start(ctx, c.id)
            assert plan.queued_for == utc(2026, 3, 5, 9, 0)
            assert plan.sending_begins == "Thursday Mar 5 at 09:00, when sending hours begin"
            assert {dl.due_at for dl in Delivery.select()} == {utc(2026, 3, 5, 9, 0)}
            for minutes in (0, 60, 300, 569):  # up to 08:59
                clock.at = utc(2026, 3, 4, 23, 30) + timedelta(minutes=minutes)
                assert d.run_once().claimed == 0
            assert not smtp.messages and status_counts(c.id) == {"queued": 5}
            clock.at = utc(2026, 3, 5, 9, 0)
            assert d.run_once().sent == 5
            clock.advance(hours=1)
            d.run_once()
            assert len(smtp.messages) == 5 and len({m.rcpt_tos[0] for m in smtp.messages}) == 5
            assert status_counts(c.id) == {"sent": 5}

    def test_a_row_due_outside_the_hours_is_deferred_at_the_hand_over(self, db, db_url, tmp_path, smtp, gw):
        # started inside the hours, but the dispatcher only runs after 20:00
        ctx, clock, d = setup(db_url, tmp_path, smtp, gw, utc(2026, 3, 4, 19, 0))
        with d:
            add_patients(1)
            c = campaigns.create(ctx, "invitation", "Invite")
            recipients.assign_ids(ctx, c.id, ["1000"])
            assert recipients.start(ctx, c.id).sending_begins == ""
            clock.at = utc(2026, 3, 4, 20, 5)
            stats = d.run_once()
            assert stats.deferred == 1 and not smtp.messages
            dl, r = Delivery.get(), Recipient.get()
            assert (dl.status, dl.attempts, dl.due_at) == ("pending", 0, utc(2026, 3, 5, 9, 0))
            assert r.next_attempt_at == utc(2026, 3, 5, 9, 0)

    def test_a_retry_due_at_2110_moves_to_the_next_morning(self, db, db_url, tmp_path, smtp, gw):
        # a 4xx at 19:50 whose backoff (2h, jitter 75-100 %) lands between 21:20 and 21:50
        ctx, clock, d = setup(
            db_url,
            tmp_path,
            smtp,
            gw,
            utc(2026, 3, 6, 19, 50),  # a Friday
            backoff_base_seconds=7200.0,
            backoff_max_seconds=7200.0,
        )
        with d:
            add_patients(1)
            c = campaigns.create(ctx, "invitation", "Invite")
            recipients.assign_ids(ctx, c.id, ["1000"])
            recipients.start(ctx, c.id)
            smtp.faults.append("451 4.3.0 try again later")
            d.run_once()
            r = Recipient.get()
            assert r.status == "retrying" and r.next_attempt_at == utc(2026, 3, 7, 9, 0)  # Saturday 09:00
            clock.at = utc(2026, 3, 7, 8, 59)
            d.run_once()
            assert not smtp.messages
            clock.at = utc(2026, 3, 7, 9, 0)
            d.run_once()
            assert len(smtp.messages) == 1 and Recipient.get().status == "sent"

    def test_a_broadcast_started_before_its_window_waits_for_its_first_allowed_moment(
        self, db, db_url, tmp_path, smtp, gw
    ):
        ctx, clock, d = setup(db_url, tmp_path, smtp, gw, utc(2026, 3, 2, 10, 0))  # Monday
        with d:
            add_patients(2, app_id=lambda i: f"a-{i}")
            b = campaigns.create(
                ctx,
                "broadcast",
                "Vaccins",
                date(2026, 3, 8),  # a Sunday, not a sending day: the pushes wait for Monday
                date(2026, 3, 12),
                templates={"fr": {"title": "T", "body": "B", "push": "P"}},
            )
            recipients.assign_ids(ctx, b.id, ["1000", "1001"])
            plan = recipients.start(ctx, b.id)
            assert plan.queued_for == utc(2026, 3, 9, 9, 0)
            # a week on: dated (--json's English with the ISO day; people read the day in their language)
            assert plan.sending_begins_en == "outside sending hours: will go out from Monday 2026-03-09 09:00"
            assert plan.sending_begins == "Monday Mar 9 at 09:00, when sending hours begin"
            # the feed is not bound by the hours: published at the window's first moment
            clock.at = utc(2026, 3, 8, 0, 0)
            recipients.publish_due(ctx)
            d.run_once()
            assert gw.audience(b.uuid) == {"a-1000", "a-1001"} and not gw.pushes
            clock.at = utc(2026, 3, 9, 8, 59)
            d.run_once()
            assert not gw.pushes
            clock.at = utc(2026, 3, 9, 9, 0)
            d.run_once()
            assert len(gw.pushes) == 2 and status_counts(b.id) == {"sent": 2}
