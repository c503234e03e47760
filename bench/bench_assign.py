"""Assign ~5,000 patients out of 1,000,000 (issue #21, item 4), on the history world
(`bench.world`): by conditions to a live broadcast (with its publish rows), and from a
CSV list of 5,000 EMR ids to an invitation; each the median of three (a fresh campaign
each time), beside the bare baseline doing the same in the same run: one `INSERT …
SELECT` of the recipients (the ids through a temporary table), rolled back.

Targets: ≤ 0.3 s each, on both databases.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.common import Figures, bench_ctx, median_of
from bench.world import world_backends
from core import campaigns, conditions
from core.db import is_postgres
from core.models import Patient, database
from core.recipients import assign, idlist

TARGET = 0.3
TEMPLATES = {lang: {"title": "T", "body": "B", "push": "P"} for lang in ("fr", "en")}


def _conditions_near_5000(ctx) -> tuple[int, list]:
    """'Patients of Dr X aged A or more': the condition set matching as close to 5,000 as
    the data allows without going over (a binary search on the age)."""
    who = "Dre Émilie Côté"
    lo, hi, best = 0, 110, None
    while lo <= hi:
        age = (lo + hi) // 2
        conds = [conditions.parse(f"practitioner = {who}"), conditions.parse(f"age >= {age}")]
        n = conditions.count(ctx, conds)
        if n <= 5000:
            best = (n, conds)
            hi = age - 1
        else:
            lo = age + 1
    assert best is not None
    return best


def _bare(sql_select: str, params: list, ids: list[str] | None = None) -> float:
    """One INSERT … SELECT of recipients for a new campaign, in a transaction rolled back."""
    p = database.param
    t0 = time.perf_counter()
    with database.atomic() as txn:
        cid = database.execute_sql(
            "INSERT INTO campaign (uuid, kind, name, archived, created_at, created_by, updated_at, content_version)"
            f" VALUES ({p}, 'invitation', 'bare', {p}, {p}, 'bench', {p}, 1)"
            + (" RETURNING id" if is_postgres() else ""),
            [str(uuid.uuid4()), False, "2026-01-01", "2026-01-01"],
        )
        cid = cid.fetchone()[0] if is_postgres() else cid.lastrowid
        if ids is not None:
            database.execute_sql("CREATE TEMPORARY TABLE bare_ids (k VARCHAR(64) PRIMARY KEY)")
            database.cursor().executemany(f"INSERT INTO bare_ids (k) VALUES ({p})", [(i,) for i in ids])
        database.execute_sql(
            "INSERT INTO recipient (campaign_id, patient_id, status, reason_code, reason, added_at, added_by, in_feed)"
            f" SELECT {p}, patient.id, 'assigned', '', '', {p}, 'bench', {p} {sql_select}",
            [cid, "2026-01-01", False, *params],
        )
        took = time.perf_counter() - t0
        txn.rollback()  # the temporary table too: DDL is transactional on both databases
    return took


def measure(label: str, ctx, folder: Path, figures: Figures) -> None:
    today = ctx.today()
    n, conds = _conditions_near_5000(ctx)
    where, params = Patient.select(Patient.id).where(conditions.compile(conds, today)).sql()
    where = where[where.index(" FROM ") :]

    got: dict[str, object] = {}

    def by_conditions() -> float:
        b = campaigns.create(
            ctx, "broadcast", f"cond {uuid.uuid4().hex[:6]}", today, today + timedelta(days=3), templates=TEMPLATES
        )
        t0 = time.perf_counter()
        res = assign.assign_conditions(ctx, b.id, conds)
        took = time.perf_counter() - t0
        assert res.added + res.skipped == n, res
        got["cond"] = res
        return took

    took = median_of(by_conditions)
    res = got["cond"]
    figures.row(
        f"{label}: assign ~5,000 by conditions: {n:,} of {Patient.select().count():,} match, "
        f"{res.added:,} added, {res.skipped:,} skipped (consent), {res.published:,} published",
        took,
        TARGET,
        baseline=median_of(lambda: _bare(where.replace('"t1"', "patient").replace("t1.", "patient."), params)),
        baseline_what="one INSERT … SELECT",
    )

    # 5,000 EMR ids of patients not on the app (an invitation's audience), as a CSV list
    ids = [
        e
        for (e,) in Patient.select(Patient.emr_id)
        .where(Patient.app_id.is_null())
        .order_by(Patient.id.desc())
        .limit(5000)
        .tuples()
    ]
    csv_path = folder / "ids.csv"
    csv_path.write_text("No dossier\n" + "\n".join(ids) + "\n", encoding="utf-8")

    def from_csv() -> float:
        inv = campaigns.create(ctx, "invitation", f"csv {uuid.uuid4().hex[:6]}")
        t0 = time.perf_counter()
        res = idlist.assign_csv(ctx, inv.id, csv_path)
        took = time.perf_counter() - t0
        assert res.added + res.skipped == len(ids), res
        got["csv"] = res
        return took

    took = median_of(from_csv)
    res = got["csv"]
    figures.row(
        f"{label}: assign from a CSV of {len(ids):,} EMR ids (read, check, assign): "
        f"{res.added:,} added, {res.skipped:,} skipped (consent)",
        took,
        TARGET,
        baseline=median_of(lambda: _bare("FROM patient JOIN bare_ids ON bare_ids.k = patient.emr_key", [], ids=ids)),
        baseline_what="ids to a temporary table, one INSERT … SELECT",
    )


def run() -> Figures:
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="clinicast-bench-assign-") as d:
        folder = Path(d)
        for label, _url in world_backends(folder):
            ctx = bench_ctx(folder, _url)
            measure(label, ctx, folder, figures)
    return figures


if __name__ == "__main__":
    print(run().text())
