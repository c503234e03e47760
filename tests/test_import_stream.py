"""A directory import read a chunk at a time (issue #21): still one transaction, every
bad row still listed however many, in bounded memory; opt-outs asked once. SQLite and
PostgreSQL."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from click.testing import CliRunner
from helpers import statements

from core import context
from core.csvio import FileProblems, ProblemLines
from core.db import is_postgres
from core.models import AuditLog, OptOut, Patient, database
from core.optouts import ledger
from core.patients import lookup, reader, upsert

NOW = datetime(2025, 6, 2, 15, 0)


@pytest.fixture
def ctx(config, db):
    return context.for_current_user(config, clock=lambda: NOW)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 rows: a small file is written in several."""
    monkeypatch.setattr(reader, "CHUNK_ROWS", 3)


def _csv(tmp_path, rows: list[str], header="emr_id,first_name,last_name,email,marketing_consent,do_not_contact"):
    p = tmp_path / "export.csv"
    p.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return p


def test_chunks_are_one_transaction(ctx, tmp_path, small_chunks):
    """A bad row after several chunks were written: none of them stays."""
    upsert.import_csv(ctx, _csv(tmp_path, ["1,Léa,Roy,lea@example.org,oui,non"]))
    before = list(Patient.select().tuples())
    rows = [f"{i},P{i},N{i},p{i}@example.org,oui,non" for i in range(2, 12)]
    rows.append("12,Bad,Date,nope,peut-être,non")
    with pytest.raises(FileProblems) as e:
        upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert e.value.summary.endswith("1 bad row, nothing imported")
    assert list(Patient.select().tuples()) == before
    assert AuditLog.select().where(AuditLog.action == "import").count() == 1


def test_chunked_import_writes_every_row(ctx, tmp_path, small_chunks):
    rows = [f"{i:05d},P{i},N{i},p{i}@example.org,oui,non" for i in range(1, 11)]
    r = upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert (r.inserted, r.total) == (10, 10)
    assert lookup.get_by_emr("7").emr_id == "00007"
    # a duplicate in a later chunk names the line of the first, in an earlier chunk
    rows.append("7,Again,Seven,,oui,non")
    with pytest.raises(FileProblems) as e:
        upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert list(e.value.problems) == [
        f"{tmp_path / 'export.csv'}:12: column “emr_id”: "
        "duplicate EMR id “7” (the same id as “00007”), already on line 8"
    ]


def test_every_bad_row_listed_past_what_memory_keeps(ctx, tmp_path, monkeypatch):
    """More problems than ProblemLines keeps in memory: all listed, in line order, by the
    exception and by the command line (stderr), and nothing written."""
    monkeypatch.setattr(ProblemLines, "KEEP", 5)
    rows = [f"{i},P,N,bad{i},oui,non" for i in range(1, 31)]
    p = _csv(tmp_path, rows)
    with pytest.raises(FileProblems) as e:
        upsert.import_csv(ctx, p)
    problems = list(e.value.problems)
    assert len(problems) == 30 and e.value.problems.spilled
    assert [x.split(":")[1] for x in problems] == [str(line) for line in range(2, 32)]
    assert problems[29].endswith("got “bad30”")
    assert Patient.select().count() == 0

    from cli import cli

    res = CliRunner().invoke(cli, ["patients", "import", str(p), "--config", str(ctx.config.path)], obj={})
    assert res.exit_code == 2
    err = res.stderr.splitlines()
    assert err[0] == f"clinicast: {p}: 30 bad rows, nothing imported"
    assert len(err) == 31 and err[-1].endswith("got “bad30”")


def test_problem_lines_keep_every_line():
    lines = ProblemLines()
    lines.KEEP = 2
    for i in range(7):
        lines.add(f"line {i}")
    assert len(lines) == 7 and lines.spilled
    assert list(lines) == [f"line {i}" for i in range(7)]
    assert list(lines) == [f"line {i}" for i in range(7)]  # read again
    assert lines[5] == "line 5" and lines[-1] == "line 6"
    assert str(FileProblems("2 bad", lines)).splitlines()[-1] == "… and 5 more problems"
    out = io.StringIO()
    for line in FileProblems("2 bad", lines).lines():
        print(line, file=out)
    assert out.getvalue().splitlines() == ["2 bad", *(f"line {i}" for i in range(7))]


def test_opt_outs_asked_once_and_kept(ctx, tmp_path, small_chunks):
    """The opt-outs are read in one query whatever the number of chunks; a row saying
    "contact them" for a patient who opted out is counted, by key (`00002` is `2`)."""
    rows = [f"{i},P{i},N{i},p{i}@example.org,non,oui" for i in range(1, 8)]
    upsert.import_csv(ctx, _csv(tmp_path, rows))
    ledger.record(ctx, "2", "all", "asked at the desk")
    ledger.record(ctx, "5", "email", "asked by phone")
    with statements() as queries:
        rows = [f"{i:05d},P{i},N{i},p{i}@example.org,oui,non" for i in range(1, 8)]
        r = upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert r.kept_opted_out == 2  # 2: any opt-out, contact "yes"; 5: the same
    assert sum('"opt_out"' in q or " opt_out" in q for q in queries) == 1
    assert OptOut.select().where(OptOut.cleared_at.is_null()).count() == 2


def test_no_opt_out_no_question(ctx, tmp_path, small_chunks):
    rows = [f"{i},P{i},N{i},p{i}@example.org,oui,non" for i in range(1, 8)]
    r = upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert r.kept_opted_out == 0 and r.inserted == 7


def _indexes() -> set[str]:
    return {i.name for i in database.get_indexes(Patient._meta.table_name)}


def test_a_big_first_import_builds_the_indexes_after(ctx, tmp_path, small_chunks, monkeypatch):
    """SQLite writes a big first import with the indexes dropped and built again in the
    same transaction (upsert.BULK_BELOW); a bad row puts them back with the rest."""
    indexes = _indexes()
    bulks = []
    real_bulk = upsert._Writer.bulk
    monkeypatch.setattr(upsert._Writer, "bulk", lambda self: bulks.append(1) or real_bulk(self))
    rows = [f"{i},P{i},N{i},p{i}@example.org,oui,non" for i in range(1, 11)]
    bad = [*rows[:7], "8,Bad,Date,nope,peut-être,non"]
    with pytest.raises(FileProblems):
        upsert.import_csv(ctx, _csv(tmp_path, bad))
    assert _indexes() == indexes and not Patient.select().exists()
    r = upsert.import_csv(ctx, _csv(tmp_path, rows))
    assert (r.inserted, r.total) == (10, 10)
    assert _indexes() == indexes
    assert lookup.search(ctx, "N7 P7")[0].emr_id == "7"
    # the ids stay unique: an EMR id imported again is an update, not a second patient
    assert upsert.import_csv(ctx, _csv(tmp_path, ["7,Sept,N7,p7@example.org,oui,non"])).updated == 1
    assert Patient.select().count() == 10
    assert len(bulks) == (0 if is_postgres() else 2)
