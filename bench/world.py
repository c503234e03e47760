"""A clinic with a history: 1,000,000 patients, 200 campaigns and 1,000,000 recipient
rows (5,000 a campaign), their deliveries and invitations — the database the history,
assign and TUI-start benchmarks run on (issue #21).

Built fast and set-based, not through clinicast's own actions (that is not what is
measured): patients from `core.fakedata` (executemany on SQLite, COPY on PostgreSQL),
then one `INSERT … SELECT` a campaign for its recipients, deliveries and invitations.
Campaigns span the last two years, one every ~3.6 days: most sent, some with failures,
the last few still drafts. The SQLite file is built once and kept in `bench/.cache/`
(copied for each run); PostgreSQL is built in the run's schema.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from core import emr, fakedata
from core.db import is_postgres, sql_uuid
from core.models import Campaign, Patient, database, utcnow
from core.patients.cells import name_key

N_PATIENTS = 1_000_000
N_CAMPAIGNS = 200
PER_CAMPAIGN = 5_000  # 200 x 5,000 = 1,000,000 recipient rows
VERSION = 1  # bump when the world changes: the cached SQLite file is rebuilt
CACHE = Path(__file__).resolve().parent / ".cache"
COLUMNS = [
    *fakedata.FIELDS,
    "search_name",
    "emr_key",
    "imported_at",
    "updated_at",
]


def _patient_rows(n: int, pg: bool):
    now = utcnow()
    stamp = now if pg else str(now)
    for r in fakedata.iter_patients(n, seed=21):
        values = []
        for f in fakedata.FIELDS:
            v = r[f]
            if not pg and hasattr(v, "isoformat"):
                v = v.isoformat()
            values.append(v)
        yield (*values, name_key(r["last_name"], r["first_name"]), emr.key(r["emr_id"]), stamp, stamp)


def _insert_patients(n: int) -> None:
    t = Patient._meta.table_name
    cols = ", ".join(COLUMNS)
    cursor = database.cursor()
    rows = _patient_rows(n, is_postgres())
    if is_postgres():
        with cursor.copy(f"COPY {t} ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        return
    sql = f"INSERT INTO {t} ({cols}) VALUES ({', '.join(['?'] * len(COLUMNS))})"
    chunk: list[tuple] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) == 10_000:
            cursor.executemany(sql, chunk)
            chunk = []
    if chunk:
        cursor.executemany(sql, chunk)


def _history(n_patients: int, n_campaigns: int, per_campaign: int) -> None:
    now = utcnow()
    p = database.param
    mod = "%%" if is_postgres() else "%"  # psycopg reads a lone % as a placeholder
    uuid = sql_uuid().sql
    ids = [pid for (pid,) in Patient.select(Patient.id).order_by(Patient.id).tuples()]
    for i in range(n_campaigns):
        started = now - timedelta(days=730 * (n_campaigns - i) / n_campaigns)
        draft = i >= n_campaigns - 5
        kind = "invitation" if i % 5 < 3 else "broadcast"
        c = Campaign.create(
            kind=kind,
            name=f"{'Invitation' if kind == 'invitation' else 'Message'} #{i + 1} — {started:%B %Y}",
            starts_on=None if kind == "invitation" else started.date(),
            ends_on=None if kind == "invitation" else (started + timedelta(days=30)).date(),
            created_at=started,
            created_by="bench",
            updated_at=started,
            first_started_at=None if draft else started,
            last_started_at=None if draft else started,
            published_at=None if draft or kind == "invitation" else started,
            expired_at=None if draft or kind == "invitation" else started + timedelta(days=30),
        )
        lo = ids[(i * per_campaign) % n_patients]
        hi = ids[min((i * per_campaign) % n_patients + per_campaign, n_patients) - 1]
        # 2 % failed, 2 % skipped, 1 % removed, the rest sent (assigned while a draft)
        status = (
            "'assigned'"
            if draft
            else f"CASE WHEN id {mod} 50 = 0 THEN 'failed' WHEN id {mod} 50 = 1 THEN 'skipped' "
            f"WHEN id {mod} 100 = 2 THEN 'removed' ELSE 'sent' END"
        )
        database.execute_sql(
            "INSERT INTO recipient (campaign_id, patient_id, status, reason_code, reason, added_at, added_by,"
            " queued_at, sent_at, in_feed)"
            f" SELECT {p}, id, {status}, '', '', {p}, 'bench', {p}, {p}, {p} FROM patient WHERE id BETWEEN {p} AND {p}",
            [c.id, started, None if draft else started, None if draft else started, kind == "broadcast", lo, hi],
        )
        if draft:
            continue
        # the outbox rows that sent (or failed) them
        dkind = "email" if kind == "invitation" else "push"
        database.execute_sql(
            "INSERT INTO delivery (kind, campaign_id, recipient_id, idempotency_key, status, due_at, attempts,"
            " outcomes_unknown, error_code, last_error, created_at, sent_at, content_version, target, requested_by)"
            f" SELECT {p}, campaign_id, id, {uuid}, CASE status WHEN 'failed' THEN 'failed' ELSE 'sent' END,"
            f" {p}, 1, 0, '', '', {p}, {p}, 1, '', '' FROM recipient"
            f" WHERE campaign_id = {p} AND status IN ('sent', 'failed')",
            [dkind, started, started, started, c.id],
        )
        if kind == "invitation":
            # a fifth joined, the rest expired unanswered (14 days)
            joined = f"CASE WHEN d.id {mod} 5 = 0 THEN {p} ELSE NULL END"
            database.execute_sql(
                "INSERT INTO invitation (recipient_id, patient_id, campaign_id, delivery_id, code, token, url,"
                " created_at, expires_at, joined_at)"
                f" SELECT r.id, r.patient_id, r.campaign_id, d.id, 'C' || d.id, 'T' || d.id,"
                f" 'https://app.example.org/join/T' || d.id, {p}, {p}, {joined}"
                " FROM delivery AS d JOIN recipient AS r ON r.id = d.recipient_id"
                f" WHERE d.campaign_id = {p} AND d.status = 'sent'",
                [started, started + timedelta(days=14), started + timedelta(days=2), c.id],
            )


def build(n_patients: int = N_PATIENTS, n_campaigns: int = N_CAMPAIGNS, per_campaign: int = PER_CAMPAIGN) -> None:
    """Fill the bound (migrated, empty) database with the world."""
    with database.atomic():
        _insert_patients(n_patients)
        _history(n_patients, n_campaigns, per_campaign)
    database.execute_sql("ANALYZE")


def sqlite_world(dest: Path, bind_and_migrate, n_patients: int = N_PATIENTS) -> None:
    """Make `dest` a copy of the cached SQLite world (building it the first time).
    `bind_and_migrate(path)` binds the database at `path` and migrates it."""
    # built at the schema of its day; each copy is migrated to this one's (bind_and_migrate)
    cached = CACHE / f"history-v{VERSION}-{n_patients}.db"
    if not cached.exists():
        CACHE.mkdir(exist_ok=True)
        tmp = cached.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        bind_and_migrate(tmp)
        build(n_patients)
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        database.close()
        tmp.rename(cached)
    shutil.copyfile(cached, dest)
    bind_and_migrate(dest)


_PG_WORLD: list[str] = []  # the PostgreSQL world of this process, built once (dropped at exit)


def world_backends(folder: Path):
    """(label, url) of the world on SQLite (a fresh copy of the cached file) and, when
    CLINICAST_TEST_PG_URL is set, on PostgreSQL (built once a process, in its own
    schema); each bound and migrated with a config at `folder/bench.toml`."""
    import atexit
    import contextlib

    from bench.common import _pg_schema, bench_ctx, pg_base_url

    path = folder / "history.db"
    url = f"sqlite:///{path.as_posix().lstrip('/')}"
    sqlite_world(path, lambda p: bench_ctx(folder, f"sqlite:///{p.as_posix().lstrip('/')}"))
    yield "sqlite", url
    database.close()
    base = pg_base_url()
    if not base:
        return
    if not _PG_WORLD:
        stack = contextlib.ExitStack()
        atexit.register(stack.close)
        _PG_WORLD.append(stack.enter_context(_pg_schema(base)))
        bench_ctx(folder, _PG_WORLD[0])
        build()
    else:
        bench_ctx(folder, _PG_WORLD[0])
    yield "postgresql", _PG_WORLD[0]
    database.close()
