"""The audit trail as a hash chain (issue #19, core/audit/chain.py): a row deleted,
changed or moved with the database's own tools is found and named; concurrent writers
keep the chain whole (SQLite and PostgreSQL); the daemon checks the tail at start."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from conftest import write_config

from cli import cli
from core import campaigns
from core import db as dbmod
from core.audit import chain, record
from core.context import for_current_user
from core.models import AuditLog, database


@pytest.fixture
def ctx(config, db):
    return for_current_user(config)


def actions(ctx, n=6):
    for i in range(n):
        campaigns.create(ctx, "invitation", f"Campagne {i}")


def sql(statement):
    database.execute_sql(statement)


def kinds(verdict):
    return [(b.id, b.kind) for b in verdict.breaks]


def test_rows_written_by_clinicast_chain_intact(ctx):
    actions(ctx)
    v = chain.verify()
    assert v.intact and v.rows == 6 and v.head == AuditLog.select().order_by(AuditLog.id.desc()).first().hash
    first = AuditLog.select().order_by(AuditLog.id).first()
    assert first.prev_hash == chain.GENESIS


def test_a_deleted_row_is_found_where_it_was(ctx):
    actions(ctx)
    sql("DELETE FROM audit_log WHERE id = 3")
    assert kinds(chain.verify()) == [(4, "deleted")]


def test_a_changed_row_is_found(ctx):
    actions(ctx)
    sql("UPDATE audit_log SET detail = '{}' WHERE id = 2")
    sql("UPDATE audit_log SET \"user\" = 'someone' WHERE id = 5")
    assert kinds(chain.verify()) == [(2, "changed"), (5, "changed")]


def test_reordered_rows_are_found(ctx):
    actions(ctx)
    sql("UPDATE audit_log SET id = 100 WHERE id = 2")
    sql("UPDATE audit_log SET id = 2 WHERE id = 4")
    sql("UPDATE audit_log SET id = 4 WHERE id = 100")
    found = kinds(chain.verify())
    assert found and {k for _i, k in found} == {"moved"} and found[0][0] == 2


def test_a_row_written_around_clinicast_is_found(ctx):
    actions(ctx, 2)
    sql("INSERT INTO audit_log (at, \"user\", action, detail) VALUES ('2026-01-01 00:00:00', 'x', 'create', '{}')")
    assert kinds(chain.verify()) == [(3, "unchained")]


def test_the_daemons_tail_check_takes_its_first_row_on_trust(ctx):
    actions(ctx, 8)
    sql("DELETE FROM audit_log WHERE id = 2")  # before the tail: not the daemon's to see
    assert chain.verify(tail=4).intact and chain.verify(tail=4).rows == 4
    sql("DELETE FROM audit_log WHERE id = 7")
    assert kinds(chain.verify(tail=4)) == [(8, "deleted")]


def test_concurrent_writers_keep_the_chain_whole(ctx):
    """Eight threads, each its own connection, write at once: every row is chained to
    the one before it (without the lock, two writers chain to the same row)."""
    barrier = threading.Barrier(8)
    errors = []

    def writer(k):
        try:
            barrier.wait(30)
            for i in range(15):
                with dbmod.write_transaction():
                    record(ctx, "test", None, writer=k, i=i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            database.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    v = chain.verify()
    assert v.rows == 120 and v.intact, [b.describe(ctx.config.clinic.tz) for b in v.breaks[:5]]


def test_audit_verify_on_the_command_line(tmp_path, config_path, ctx):
    actions(ctx, 4)
    run = CliRunner()
    res = run.invoke(cli, ["audit", "verify", "--json", "--config", str(config_path)], obj={})
    assert res.exit_code == 0 and json.loads(res.stdout)["intact"] is True, res.output
    sql("DELETE FROM audit_log WHERE id = 2")
    res = run.invoke(cli, ["audit", "verify", "--config", str(config_path)], obj={})
    assert res.exit_code == 1 and "#3" in res.stdout, res.output
    res = run.invoke(cli, ["audit", "--json", "--config", str(config_path)], obj={})  # the trail still reads
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 3


def test_audit_verify_is_for_admins(tmp_path, sqlite_url):
    import os
    import pwd

    login = pwd.getpwuid(os.geteuid()).pw_name
    p = write_config(tmp_path, sqlite_url, users=f'[users.{login}]\nname = "S"\npermissions = ["campaigns"]\n')
    run = CliRunner()
    assert run.invoke(cli, ["init", "--config", str(p)], obj={}).exit_code == 0
    res = run.invoke(cli, ["audit", "verify", "--config", str(p)], obj={})
    assert res.exit_code == 1 and "admin" in res.stderr


def test_the_migration_chains_the_rows_written_before_it(tmp_path, sqlite_url):
    """A database at schema 3 with audit rows: `init` chains them, oldest first."""
    from playhouse.migrations import Runner

    from core import migrations

    config = write_config(tmp_path, sqlite_url)
    dbmod.bind(sqlite_url)
    runner = Runner(database.obj, str(migrations.DIRECTORY), table_name=migrations.HISTORY_TABLE)
    runner.up("0003_staff_preferences")
    for i in range(3):
        database.execute_sql(
            'INSERT INTO audit_log (at, "user", action, detail) VALUES (?, ?, ?, ?)',
            (f"2026-01-0{i + 1} 10:00:00.25", "old", "create", json.dumps({"i": i})),
        )
    dbmod.migrate()
    v = chain.verify()
    assert v.intact and v.rows == 3
    from core.config import load

    record(for_current_user(load(config, env={})), "after")
    assert chain.verify().intact


@contextlib.contextmanager
def daemon_log() -> Iterator[io.StringIO]:
    """What the daemon logs inside the block. Its logging setup changes process-wide
    loggers: they are put back as they were, or every later test in this worker that
    reads caplog sees nothing (propagate = False)."""
    from core.scheduling import daemon

    out = io.StringIO()
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate) for lg in map(logging.getLogger, ("clinicast", "apscheduler"))
    ]
    daemon.setup_logging("info", out)
    try:
        yield out
    finally:
        for lg, handlers, level, propagate in saved:
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def test_the_daemon_logs_the_chain_and_files_others_can_read_at_start(ctx, config, tmp_path):
    import os

    from core.scheduling import daemon

    actions(ctx, 3)
    sql("DELETE FROM audit_log WHERE id = 2")
    db_file = tmp_path / "clinicast.db"
    if db_file.exists():
        os.chmod(db_file, 0o644)
    with daemon_log() as out:
        daemon.look_at_what_staff_share(config)
    log = out.getvalue()
    assert "event=audit_chain_broken row=3 kind=deleted" in log, log
    assert "event=audit_chain checked=2 intact=False last_row=3" in log
    if db_file.exists():  # SQLite: the file is named with its fix
        assert f'event=readable_by_others path={db_file} files=1 fix="chmod o-rwx {db_file}"' in log, log


def more_rows(ctx, n):
    for _ in range(n):
        record(ctx, "edit", note=f"row {AuditLog.select().count() + 1}")


def test_the_newest_rows_deleted_are_found_against_the_head_the_daemon_kept(ctx, tmp_path):
    """A shorter chain verifies; the row that was the newest when the daemon last looked
    is what shows it. The head is kept 0600 in the daemon's own folder, written again each
    time, and a row changed under it is said too."""
    import stat

    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    more_rows(ctx, 4)
    assert chain.guard_head(folder) is None  # nothing kept yet: this look keeps the head
    kept = chain.kept_head(folder)
    assert kept == chain.Head(4, AuditLog.get_by_id(4).hash)
    assert stat.S_IMODE((folder / chain.HEAD_FILE).stat().st_mode) == 0o600
    more_rows(ctx, 2)  # rows 5 and 6: all well, the head moves on
    assert chain.guard_head(folder) is None and chain.kept_head(folder).id == 6
    sql("DELETE FROM audit_log WHERE id >= 5")
    assert chain.verify().intact, "a shorter chain verifies"
    lost = chain.guard_head(folder)
    assert lost == chain.HeadLost("deleted", 6, 4), lost
    assert "#6" in lost.describe() and "deleted" in lost.describe() and "#4" in lost.describe()
    more_rows(ctx, 1)
    assert chain.guard_head(folder) is None, "said once; the trail goes on from its new head"
    # the newest row rewritten and its hash recomputed (the chain then verifies): not the row seen
    last = AuditLog.select().order_by(AuditLog.id.desc()).first()
    forged = chain.row_hash(last.prev_hash, last.at, last.user, last.action, last.campaign, "{}")
    AuditLog.update(detail="{}", hash=forged).where(AuditLog.id == last.id).execute()
    assert chain.verify().intact
    lost = chain.guard_head(folder)
    assert lost is not None and lost.kind == "changed" and "changed" in lost.describe()


def test_the_daemon_says_the_trail_was_cut_in_its_log(ctx, config, tmp_path, monkeypatch):
    from core.scheduling import daemon

    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("STATE_DIRECTORY", f"{folder}:/elsewhere")  # systemd's form: the first one
    actions(ctx, 3)
    with daemon_log() as out:
        daemon.look_at_what_staff_share(config)
        sql("DELETE FROM audit_log WHERE id = 3")
        daemon.look_at_what_staff_share(config)
    log = out.getvalue()
    assert log.count("event=audit_trail_cut kind=deleted row=3 last_row=2") == 1 and "audit row #3" in log, log
    assert "event=audit_chain checked=2 intact=True" in log, "the shorter chain verifies: only the head shows it"


def test_the_row_verify_names_is_found_by_its_number_in_the_listing(config_path, ctx):
    """`audit verify` names a broken row by its number; `clinicast audit` numbers each row
    in the same words, and --json / --csv carry the same id (they had none: a break could
    not be found in the listing)."""
    actions(ctx, 4)
    sql("UPDATE audit_log SET detail = '{}' WHERE id = 3")
    run = CliRunner()
    res = run.invoke(cli, ["audit", "verify", "--config", str(config_path)], obj={})
    [(named, when, who, what)] = re.findall(r"audit row (#\d+) \((.+), (\S+), (\S+)\): changed", res.stdout)
    assert res.exit_code == 1 and named == "#3", res.output
    listing = run.invoke(cli, ["audit", "--config", str(config_path)], obj={}).stdout.splitlines()
    [line] = [line for line in listing if line.split()[0] == named]
    # the row's moment, who and what as the listing says them (verify said 2026-03-02 15:00:00Z
    # and `create` where the listing says Mar 2, 2026, 10:00:00 and create, in the clinic's zone)
    assert line.startswith(f"{named} {when} {who} ") and f" {what} " in line and not when.endswith("Z"), (line, when)
    assert "Campagne 2" not in line and line == listing[2], listing  # its detail was emptied: the third row
    assert [line.split()[0] for line in listing] == ["#1", "#2", "#3", "#4"]
    trail = json.loads(run.invoke(cli, ["audit", "--json", "--config", str(config_path)], obj={}).stdout)
    assert [r["id"] for r in trail] == [1, 2, 3, 4] and list(trail[0])[:2] == ["id", "at"]
    res = run.invoke(cli, ["audit", "--csv", "--config", str(config_path)], obj={})
    rows = list(csv.DictReader(io.StringIO(res.stdout.removeprefix("\ufeff"))))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"] and rows[2]["detail"] == "{}"
