"""Assign 5,000 patients out of 100,000: by conditions, and from a CSV list of EMR ids.

Targets on a 2-core machine: by conditions ≤ 0.3 s, from CSV ≤ 0.5 s (each one assign,
including its outbox rows for a live broadcast).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.common import backends, bench_ctx
from core import campaigns, conditions, emr, fakedata, recipients
from core.models import Patient, database

N = 100_000


def _setup(folder: Path, url: str):
    ctx = bench_ctx(folder, url)
    rows = fakedata.generate(N, seed=7)
    fields = [f for f in rows[0] if f in Patient._meta.fields]
    with database.atomic():
        for i in range(0, N, 2000):
            Patient.insert_many(
                [{**{k: r[k] for k in fields}, "emr_key": emr.key(r["emr_id"])} for r in rows[i : i + 2000]]
            ).execute()
    return ctx, rows


def _conditions_near_5000(ctx) -> list:
    """A realistic condition set ('patients of Dr X on the app, aged A or more') matching
    as close to 5,000 patients as the data allows without going over."""
    best = None
    for who in fakedata.PRACTITIONERS[:3]:
        for age in range(0, 100, 2):
            conds = [conditions.parse(f"practitioner = {who}"), conditions.parse(f"age >= {age}")]
            n = conditions.count(ctx, conds)
            if n <= 5000:
                if best is None or n > best[0]:
                    best = (n, conds)
                break
    return best[1]


def _measure(ctx, rows, folder: Path, label: str) -> dict:
    out: dict = {}
    today = ctx.today()
    tpl = {lang: {"title": "T", "body": "B", "push": "P"} for lang in ("fr", "en")}
    conds = _conditions_near_5000(ctx)
    t0 = time.perf_counter()
    n = conditions.count(ctx, conds)
    out[f"{label}: live count of {n:,} matching over {N:,} patients"] = time.perf_counter() - t0

    b = campaigns.create(
        ctx, "broadcast", f"cond {uuid.uuid4().hex[:6]}", today, today + timedelta(days=3), templates=tpl
    )
    t0 = time.perf_counter()
    res = recipients.assign_conditions(ctx, b.id, conds)
    out[f"{label}: assign {n:,} by conditions to a live broadcast (+ publish rows)"] = time.perf_counter() - t0
    out[f"{label}:   result"] = f"{res.added} added, {res.skipped} skipped, {res.published} publish rows"

    inv = campaigns.create(ctx, "invitation", f"csv {uuid.uuid4().hex[:6]}")
    csv_path = folder / "ids.csv"
    ids = [r["emr_id"] for r in rows if not r.get("app_id")][:5000]
    csv_path.write_text("emr_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    res = recipients.assign_csv(ctx, inv.id, csv_path)
    out[f"{label}: assign 5,000 from CSV (read, check, assign)"] = time.perf_counter() - t0
    out[f"{label}:   result "] = f"{res.added} added, {res.skipped} skipped"
    t0 = time.perf_counter()
    plan = recipients.start(ctx, inv.id)
    out[f"{label}: start an invitation to {plan.will_send:,} (outbox rows)"] = time.perf_counter() - t0
    return out


def run() -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for label, url in backends(folder):
            ctx, rows = _setup(folder, url)
            figures.update(_measure(ctx, rows, folder, label))
    return figures


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:70} {v:.3f}" if isinstance(v, float) else f"{k:70} {v}")
