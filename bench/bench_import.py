"""Imports that stream (issue #21, item 4): a directory export of 100,000 and of
1,000,000 patients (cp1252, `;`, French headers) imported into an empty database, each
import in a process of its own (its peak memory is its own), median of three, beside
the bare baseline doing the same in the same run: the stdlib `csv` module and
`executemany` (SQLite) or COPY (PostgreSQL) into the same table, no checks.

Targets: 1,000,000 on SQLite ≤ 30 s and ≤ 300 MB peak; ten times the rows ≤ eleven times
the time. Then, on the 100,000: a re-import with 1 % changed, live counts and search.
Run: `python -m bench import`; `BENCH_IMPORT_ROWS=100000` skips the million.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figures, backends, bench_ctx
from core import conditions, fakedata
from core.models import Patient, database
from core.patients import lookup, upsert

SIZES = [int(n) for n in os.environ.get("BENCH_IMPORT_ROWS", "100000,1000000").split(",")]
TARGET_1M_S, TARGET_1M_MB, TARGET_SCALE = 30.0, 300, 11.0
COUNTS = [
    ["connected_system != patient_app", "email is not empty"],
    ["age >= 65", "marketing_consent = yes"],
    ["practitioner = Dre Émilie Côté", "last_visit >= 2024-01-01"],
    ["postal_code starts with H2", "language = fr", "push_enabled = yes"],
]
SEARCHES = ["tremblay", "gagnon mar", "1000", "1980-03-04", "emilie cote"]


def _one(how: str, folder: Path, url: str, csv_path: Path) -> tuple[float, int]:
    """(seconds, peak bytes) of one import into a fresh database at `url`."""
    if url.startswith("sqlite:"):
        for suffix in ("", "-wal", "-shm"):
            (folder / f"bench.db{suffix}").unlink(missing_ok=True)
    bench_ctx(folder, url)
    database.execute_sql(f"DELETE FROM {Patient._meta.table_name}")
    database.close()
    out = subprocess.run(
        [sys.executable, "-m", "bench.import_run", how, str(folder / "bench.toml"), str(csv_path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.split()
    return float(out[0]), int(out[1])


def _median(how: str, folder: Path, url: str, csv_path: Path) -> tuple[float, int]:
    runs = [_one(how, folder, url, csv_path) for _ in range(3)]
    return statistics.median(r[0] for r in runs), int(statistics.median(r[1] for r in runs))


def _after(label: str, ctx, changed_path: Path, n: int, figures: Figures) -> None:
    t0 = time.perf_counter()
    r = upsert.import_csv(ctx, changed_path)
    figures.row(f"{label}: re-import {n:,}, 1 % changed ({r.updated:,} updated)", time.perf_counter() - t0)
    for texts in COUNTS:
        conds = [conditions.parse(t) for t in texts]
        t0 = time.perf_counter()
        found = conditions.count(ctx, conds)
        figures.row(f"{label}: count {' & '.join(texts)} ({found:,})", time.perf_counter() - t0, 0.1)
    t0 = time.perf_counter()
    for s in SEARCHES:
        lookup.search(ctx, s)
    figures.row(f"{label}: search as you type, mean of {len(SEARCHES)}", (time.perf_counter() - t0) / len(SEARCHES))


def run() -> Figures:
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="clinicast-bench-") as d:
        folder = Path(d)
        files = {}
        for n in SIZES:
            files[n] = folder / f"patients-{n}.csv"
            t0 = time.perf_counter()
            fakedata.write_csv(
                files[n], fakedata.iter_patients(n, seed=1), encoding="cp1252", delimiter=";", french_headers=True
            )
            figures.note(f"wrote {n:,} patients (cp1252, ;, French headers) in {time.perf_counter() - t0:.0f} s")
        small = min(SIZES)
        changed = folder / "changed.csv"
        rows = fakedata.generate(small, seed=1)
        for r in rows[::100]:
            r["email"] = f"changed.{r['emr_id']}@example.org"
        fakedata.write_csv(changed, rows, encoding="utf-8-sig")
        del rows

        for label, url in backends(folder):
            took: dict[int, float] = {}
            for n in SIZES:
                if label != "sqlite" and n > 100_000 and os.environ.get("BENCH_IMPORT_PG_1M") != "1":
                    continue  # a million on PostgreSQL only when asked: the figure is SQLite's
                secs, peak = _median("clinicast", folder, url, files[n])
                bare_s, bare_peak = _median("bare", folder, url, files[n])
                took[n] = secs
                big = n >= 1_000_000 and label == "sqlite"
                figures.row(
                    f"{label}: import {n:,} new patients (read, check, upsert: one transaction)",
                    secs,
                    TARGET_1M_S if big else None,
                    baseline=bare_s,
                    baseline_what="csv + executemany/COPY, no checks",
                )
                figures.note(
                    f"{label}: {n:,}: peak memory {peak / 2**20:.0f} MB"
                    + (
                        f" (target ≤ {TARGET_1M_MB} MB: {'ok' if peak <= TARGET_1M_MB * 2**20 else 'OVER'})"
                        if big
                        else ""
                    )
                    + f"; bare {bare_peak / 2**20:.0f} MB"
                )
            if len(took) > 1:
                lo, hi = min(took), max(took)
                ratio = took[hi] / took[lo]
                figures.note(
                    f"{label}: {hi // lo}x the rows took x{ratio:.1f} the time "
                    f"(target ≤ x{TARGET_SCALE:g}: {'ok' if ratio <= TARGET_SCALE else 'OVER'})"
                )
            ctx = bench_ctx(folder, url)
            database.execute_sql(f"DELETE FROM {Patient._meta.table_name}")
            upsert.import_csv(ctx, files[small])
            _after(label, ctx, changed, small, figures)
            database.close()
    return figures


if __name__ == "__main__":
    print(run().text())
