"""Import 100,000 patients from a generated EMR export, then count conditions over them.

Target on a 2-core machine: the import (read, validate, upsert in one transaction)
≤ 6 s on SQLite and PostgreSQL; a live count ≤ 0.1 s. Run: `python -m bench import`
or `python -m bench.bench_import`. PostgreSQL is measured when CLINICAST_TEST_PG_URL
is set, in a schema made for the run and dropped after.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import backends, bench_ctx
from core import conditions, fakedata
from core.models import Patient
from core.patients import lookup, upsert

N = 100_000
COUNTS = [
    ["connected_system != patient_app", "email is not empty"],
    ["age >= 65", "marketing_consent = yes"],
    ["practitioner = Dre Émilie Côté", "last_visit >= 2024-01-01"],
    ["postal_code starts with H2", "language = fr", "push_enabled = yes"],
]
SEARCHES = ["tremblay", "gagnon mar", "1000", "1980-03-04", "emilie cote"]


def _measure(label: str, ctx, csv_path: Path, changed_path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    r = upsert.import_csv(ctx, csv_path)
    out[f"{label}: import {N:,} new patients"] = time.perf_counter() - t0
    assert r.inserted == N, r
    t0 = time.perf_counter()
    r = upsert.import_csv(ctx, changed_path)
    out[f"{label}: re-import, 1 % changed"] = time.perf_counter() - t0
    assert r.updated == N // 100 and r.inserted == 0, r
    for texts in COUNTS:
        conds = [conditions.parse(t) for t in texts]
        t0 = time.perf_counter()
        n = conditions.count(ctx, conds)
        out[f"{label}: count {' & '.join(texts)} ({n:,})"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in SEARCHES:
        lookup.search(ctx, s)
    out[f"{label}: search as you type, mean of {len(SEARCHES)}"] = (time.perf_counter() - t0) / len(SEARCHES)
    assert Patient.select().count() == N
    return out


def run() -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="clinicast-bench-") as d:
        folder = Path(d)
        t0 = time.perf_counter()
        rows = fakedata.generate(N, seed=1)
        out[f"generate {N:,} patients"] = time.perf_counter() - t0
        csv_path = folder / "patients.csv"
        t0 = time.perf_counter()
        fakedata.write_csv(csv_path, rows, encoding="cp1252", delimiter=";", french_headers=True)
        out["write the CSV (cp1252, ;, French headers)"] = time.perf_counter() - t0
        for r in rows[::100]:
            r["email"] = f"changed.{r['emr_id']}@example.org"
        changed_path = folder / "changed.csv"
        fakedata.write_csv(changed_path, rows, encoding="utf-8-sig")

        for label, url in backends(folder):
            out.update(_measure(label, bench_ctx(folder, url), csv_path, changed_path))
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:70} {value:8.3f} s")
