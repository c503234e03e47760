"""The defaults that protect patients, tested as they ship (conftest sends at any hour for
every other test), and the 5,000 cap reached at 5,001 through every way in.

Widening any of these — sending hours to all day, more unknown-outcome retries (tested in
test_exactly_once "as shipped"), a larger template budget, a higher cap — fails here.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import ANY_TIME, write_config
from helpers import add_patients

from cli import cli
from core import campaigns, conditions, recipients, sending_hours
from core.campaigns.actions import template_problems
from core.config import load
from core.context import for_current_user
from core.errors import Refused
from core.models import Patient, Recipient
from core.templating import sandbox

TZ = ZoneInfo("America/Toronto")


def shipped_config(tmp_path, db_url):
    """The tests' config without its [sending] table: the product's own defaults."""
    path = write_config(tmp_path, db_url)
    path.write_text(path.read_text(encoding="utf-8").replace(ANY_TIME, ""), encoding="utf-8")
    assert "[sending]" not in path.read_text(encoding="utf-8")
    return load(path, env={})


def utc(local: datetime) -> datetime:
    """A naive UTC time for a wall-clock time in the clinic."""
    return local.replace(tzinfo=TZ).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


# --- sending hours: 09:00-20:00, Monday to Saturday ---------------------------------------


@pytest.mark.parametrize(
    "local,first",
    [
        (datetime(2026, 12, 7, 8, 59), datetime(2026, 12, 7, 9, 0)),  # Monday before nine: at nine
        (datetime(2026, 12, 7, 9, 0), datetime(2026, 12, 7, 9, 0)),  # Monday nine: now
        (datetime(2026, 12, 7, 19, 59), datetime(2026, 12, 7, 19, 59)),  # Monday evening: now
        (datetime(2026, 12, 7, 20, 0), datetime(2026, 12, 8, 9, 0)),  # Monday eight: Tuesday
        (datetime(2026, 12, 12, 12, 0), datetime(2026, 12, 12, 12, 0)),  # Saturday noon: now
        (datetime(2026, 12, 12, 20, 30), datetime(2026, 12, 14, 9, 0)),  # Saturday night: Monday
        (datetime(2026, 12, 13, 12, 0), datetime(2026, 12, 14, 9, 0)),  # Sunday: Monday
        (datetime(2026, 12, 8, 3, 0), datetime(2026, 12, 8, 9, 0)),  # the middle of the night
    ],
)
def test_shipped_sending_hours(tmp_path, sqlite_url, local, first):
    config = shipped_config(tmp_path, sqlite_url)
    assert sending_hours.first_allowed(config, utc(local)) == utc(first)


def test_shipped_sending_hours_hold_a_started_email(tmp_path, sqlite_url):
    """Started on a Sunday as shipped, the invitation waits for Monday 09:00 (its delivery's due time)."""
    from helpers import Clock

    from core import db as dbmod
    from core.models import Delivery

    config = shipped_config(tmp_path, sqlite_url)
    dbmod.bind(config.database.url)
    dbmod.migrate()
    clock = Clock(utc(datetime(2026, 12, 13, 11, 0)))
    ctx = for_current_user(config, clock=clock)
    add_patients(3)
    c = campaigns.create(ctx, "invitation", "Dimanche")
    recipients.assign_ids(ctx, c.id, ["1000", "1001", "1002"])
    recipients.start(ctx, c.id)
    due = {d.due_at for d in Delivery.select().where(Delivery.campaign == c.id)}
    assert due == {utc(datetime(2026, 12, 14, 9, 0))}


# --- the template budget -------------------------------------------------------------------


def test_shipped_template_budget():
    """The budget's figures as shipped; the behaviour at each bound is in test_hostile
    (output "at most 65,536", loops "more than 10,000 times") and below (source size)."""
    assert (sandbox.MAX_SOURCE_CHARS, sandbox.MAX_OUTPUT_CHARS, sandbox.MAX_ITERATIONS) == (65536, 65536, 10_000)
    assert sandbox.MAX_SECONDS <= 2.0 and sandbox.MAX_NUMBER <= 10**9


def test_a_template_field_over_64k_is_refused_at_save(db, config):
    ctx = for_current_user(config)
    head = "{{ invitation.code }}{{ unsubscribe.url }}{# "  # a comment: source that renders to nothing
    ok = head + "a" * (sandbox.MAX_SOURCE_CHARS - len(head) - 3) + " #}"
    assert len(ok) == 65536
    assert not template_problems(ctx, "invitation", {"fr": {"subject": "S", "body": ok}})
    problems = template_problems(ctx, "invitation", {"fr": {"subject": "S", "body": "a" + ok}})
    assert problems and any("65,536" in p.message or "65536" in p.message for p in problems), problems


# --- the 5,000 cap at 5,001, every way in -----------------------------------------------------


@pytest.fixture
def crowd(db, config):
    """5,001 eligible patients and a draft invitation."""
    ctx = for_current_user(config)
    add_patients(recipients.LIMIT + 1)
    c = campaigns.create(ctx, "invitation", "Tout le monde")
    return ctx, c.id


def _ids(n: int) -> list[str]:
    return [str(i) for i in range(1000, 1000 + n)]


def test_the_cap_is_5000():
    assert recipients.LIMIT == 5000


def test_core_ids_at_5001_refused_and_5000_added(crowd):
    ctx, cid = crowd
    with pytest.raises(Refused, match="at most 5,000"):
        recipients.assign_ids(ctx, cid, _ids(5001))
    assert Recipient.select().count() == 0
    assert recipients.assign_ids(ctx, cid, _ids(5000)).added == 5000


def test_the_cap_counts_who_comes_in_not_who_was_there(crowd):
    """5,001 patients match, one of them on the campaign already: 5,000 come in, which the
    cap allows (a list of 5,001 ids is refused for its length before this count)."""
    ctx, cid = crowd
    assert recipients.assign_ids(ctx, cid, _ids(1)).added == 1
    result = recipients.assign_conditions(ctx, cid, [conditions.parse("language = fr")])
    assert (result.added, result.already_assigned) == (5000, 1)
    assert Recipient.select().count() == 5001


def test_the_cap_counts_the_skipped_too(crowd):
    """5,001 patients match, 11 of whom may not be contacted: 4,990 assigned and 11 skipped
    would be 5,001 recipient rows — refused, nothing written (a skipped patient is a row too)."""
    ctx, cid = crowd
    Patient.update(do_not_contact=True).where(Patient.emr_id.in_(_ids(11))).execute()
    with pytest.raises(Refused, match="would add 5,001 patients"):
        recipients.assign_conditions(ctx, cid, [conditions.parse("language = fr")])
    assert Recipient.select().count() == 0


def test_core_conditions_at_5001_refused(crowd):
    ctx, cid = crowd
    with pytest.raises(Refused, match="at most 5,000"):
        recipients.assign_conditions(ctx, cid, [conditions.parse("language = fr")])
    assert Recipient.select().count() == 0


def _csv(tmp_path, n):
    p = tmp_path / f"ids{n}.csv"
    p.write_text("emr_id\n" + "\n".join(_ids(n)) + "\n", encoding="utf-8")
    return p


def test_core_csv_at_5001_refused(crowd, tmp_path):
    ctx, cid = crowd
    with pytest.raises(Refused, match="at most 5,000"):
        recipients.assign_csv(ctx, cid, _csv(tmp_path, 5001))
    assert Recipient.select().count() == 0


@pytest.mark.parametrize("how", ["csv", "where"])
def test_cli_at_5001_refused_in_one_line_exit_1(crowd, tmp_path, config, how):
    _, cid = crowd
    args = ["--csv", str(_csv(tmp_path, 5001))] if how == "csv" else ["--where", "language = fr"]
    res = CliRunner().invoke(
        cli, ["recipients", "add", str(cid), *args, "--config", str(config.path)], obj={}, catch_exceptions=False
    )
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "at most 5,000" in lines[0], res.stderr
    assert Recipient.select().count() == 0


def test_today_is_the_clinics_day_not_utcs(tmp_path, sqlite_url):
    """At 20:00 in Montréal it is already tomorrow in UTC: windows, ages and opt-out days
    follow the clinic's calendar — whatever the host's own time zone."""
    import os
    import time

    from helpers import Clock

    host_tz = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Honolulu"  # a host far from the clinic
    time.tzset()

    from core.context import Ctx

    config = shipped_config(tmp_path, sqlite_url)
    user = next(iter(config.users.values()))
    evening = Ctx(config, user, Clock(utc(datetime(2026, 12, 6, 20, 0))))
    assert evening.now() == datetime(2026, 12, 7, 1, 0)
    try:
        assert evening.today() == datetime(2026, 12, 6).date()
    finally:
        if host_tz is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = host_tz
        time.tzset()
