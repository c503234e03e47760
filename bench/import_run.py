"""One import in a process of its own, so its peak memory is its own: `python -m
bench.import_run clinicast|bare CONFIG CSV` prints `SECONDS MAX_RSS_BYTES` (and, for
clinicast, the counts). `bare` is the baseline: the stdlib `csv` module and
`executemany` into the same table, in one transaction, no checks at all."""

from __future__ import annotations

import csv
import io
import resource
import sys
import time


def clinicast(config: str, path: str) -> str:
    from core import config as cfg
    from core import db as dbmod
    from core.context import for_current_user
    from core.patients import upsert

    c = cfg.load(config, env={})
    dbmod.bind(c.database.url)
    ctx = for_current_user(c)
    r = upsert.import_csv(ctx, path)
    return f"{r.inserted} {r.updated} {r.total}"


def bare(config: str, path: str) -> str:
    from core import config as cfg
    from core import db as dbmod
    from core import fakedata
    from core.models import Patient, database

    c = cfg.load(config, env={})
    dbmod.bind(c.database.url)
    pg = dbmod.is_postgres()
    t = Patient._meta.table_name
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    by_header = {h: f for f, h in fakedata.FRENCH_HEADERS.items()}
    n = 0
    with open(path, encoding="cp1252", newline="") as f, database.atomic():
        rows = csv.reader(f, delimiter=";")
        fields = [by_header[h] for h in next(rows)]
        cols = [*fields, "search_name", "emr_key", "imported_at", "updated_at"]
        i_id, i_first, i_last = (fields.index(h) for h in ("emr_id", "first_name", "last_name"))
        cursor = database.cursor()
        if pg:  # COPY, the values as PostgreSQL reads them (booleans; empty dates and app ids are NULL)
            to_pg = {"oui": "t", "non": "f"}
            nullable = {i for i, f in enumerate(fields) if Patient._meta.fields[f].null}
            with cursor.copy(f"COPY {t} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    values = [None if (not v and i in nullable) else to_pg.get(v, v) for i, v in enumerate(r)]
                    copy.write_row((*values, f"{r[i_last]} {r[i_first]}".lower(), r[i_id], now, now))
                    n += 1
            return f"0 0 {n}"
        sql = f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join(['?'] * len(cols))})"
        chunk = []
        for r in rows:
            chunk.append((*r, f"{r[i_last]} {r[i_first]}".lower(), r[i_id], now, now))
            if len(chunk) == 5000:
                cursor.executemany(sql, chunk)
                n += len(chunk)
                chunk = []
        cursor.executemany(sql, chunk)
        n += len(chunk)
    return f"0 0 {n}"


def main(argv: list[str]) -> int:
    how, config, path = argv
    t0 = time.perf_counter()
    counts = (clinicast if how == "clinicast" else bare)(config, path)
    took = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8")
    print(f"{took:.4f} {rss} {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
