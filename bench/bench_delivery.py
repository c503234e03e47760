"""Delivery throughput, each beside a bare loop doing the same sending to the same server
in the same run; every figure the median of three runs (never the best).

- emails: the aiosmtpd test server in a process of its own. Bare loop = the standard
  library building each message (`EmailMessage`, text + HTML, the patient's values put
  in) and sending it over 2 persistent smtplib connections; clinicast = the real
  `clinicast daemon` process (2 SMTP connections), timed from the invitation's start to
  its last email recorded as sent (claim, hand-over, invitation, rendering, MIME, send,
  record). Target (issue #21): clinicast >= 0.8 x the bare loop.
- pushes: the test gateway in a process of its own. Bare loop = one httpx client sending
  the same requests clinicast sends (batches of 500 app ids to /v1/broadcasts/…/push,
  `[gateway] concurrency` at a time); clinicast = `Dispatcher.run_once()` on a broadcast
  started for the same patients (its put and publishes went out before). Target: >= 0.3.
  Beside them, a third loop on another broadcast alike: the least bookkeeping exactly
  once asks of a push (claim with a lease, read, mark sent, the recipients too: one
  statement each per 500), written bare on the driver (`bare_ledger_pushes`) — what any
  per-row ledger costs on this machine, against which clinicast's own bookkeeping is read;
  and a fourth, the least a ledger kept per batch of 500 could write
  (`bare_batch_ledger_pushes`): what a redesign of the pushes' data model is bounded by.
- rendering: the ms an email costs to render (the default invitation, one patient's
  values put in, identification added). Target: <= 0.3 ms.

The database is SQLite (set CLINICAST_BENCH_PG_URL for PostgreSQL). Only some parts:
`python -m bench delivery` runs this module alone; CLINICAST_BENCH_PARTS="pushes,emails"
(any of rendering, pushes, emails) runs only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Figures, _pg_schema

ROOT = Path(__file__).resolve().parent.parent
PUSHES = int(os.environ.get("CLINICAST_BENCH_PUSHES", 5000))
EMAILS = int(os.environ.get("CLINICAST_BENCH_EMAILS", 5000))
PARTS = set(os.environ.get("CLINICAST_BENCH_PARTS", "rendering,pushes,emails").replace(" ", "").split(","))
GW_CONCURRENCY = 16
SMTP_CONCURRENCY = 2


class _Server:
    """A tests/servers.py server in a process of its own."""

    def __init__(self, *args: str):
        self.p = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "servers.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.p.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])

    def ask(self, cmd: str) -> str:
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self) -> None:
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.p.kill()


# --- bare loops ------------------------------------------------------------------------------


def _push_client(url: str, concurrency: int):
    """The httpx client both bare push loops use, as clinicast's is set up."""
    import httpx

    return httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": "Bearer test-token", "User-Agent": "clinicast/bench"},
        timeout=10,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def _push(client, broadcast: str, app_ids: list[str], key: str) -> None:
    """One batched push request, as clinicast sends it."""
    r = await client.post(
        f"/v1/broadcasts/{broadcast}/push",
        json={"app_ids": app_ids, "title": "Vaccins", "body": "Un message de la Clinique du Parc"},
        headers={"Idempotency-Key": key},
    )
    r.raise_for_status()


def bare_push_batches(url: str, broadcast: str, batches: list[list[str]], concurrency: int) -> tuple[float, float]:
    """Seconds to send these batches as clinicast does (one POST per 500 app ids), and
    the CPU seconds this process spent on it."""

    async def go() -> tuple[float, float]:
        sem = asyncio.Semaphore(concurrency)
        async with _push_client(url, concurrency) as client:

            async def one(ids: list[str]):
                async with sem:
                    await _push(client, broadcast, ids, str(uuid.uuid4()))

            t0, c0 = time.perf_counter(), time.process_time()
            await asyncio.gather(*(one(b) for b in batches))
            return time.perf_counter() - t0, time.process_time() - c0

    return asyncio.run(go())


def _stdlib_message(i: int, text: str, html: str, subject: str) -> bytes:
    """What a hand-written loop does: the patient's values put in, an EmailMessage with
    its text and HTML parts, serialised by the standard library."""
    from email import policy
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    name, link = f"Prénom{i}", f"https://app.example.org/unsubscribe/{uuid.uuid4().hex}"
    m = EmailMessage(policy=policy.SMTP)
    m["From"] = Address("Clinique du Parc", addr_spec="no-reply@example.org")
    m["To"] = Address(f"{name} Tremblay", addr_spec=f"p{i}@example.org")
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime.now(UTC))
    m["Message-ID"] = make_msgid(domain="example.org")
    m["List-Unsubscribe"] = f"<{link}>"
    m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    m.set_content(text.replace("NAME", name).replace("LINK", link), cte="quoted-printable")
    m.add_alternative(html.replace("NAME", name).replace("LINK", link), subtype="html", cte="quoted-printable")
    return m.as_bytes()


def stdlib_builders(n: int) -> list:
    """Callables building the bare loop's messages (called in the sending thread)."""
    from datetime import date

    from core import identification, templating

    clinic = {"name": "Clinique du Parc", "phone": "514-555-0100", "address": "1234 rue Saint-Denis"}
    ctx = templating.build_context(
        clinic=clinic,
        campaign={},
        language="fr",
        patient={"first_name": "NAME", "last_name": "Tremblay", "language": "fr"},
        invitation={
            "url": "https://app.example.org/join/K7P2QX4M",
            "code": "K7P2-QX4M",
            "expires_on": date(2026, 12, 24),
        },
        unsubscribe={"url": "LINK"},
    )
    r = templating.render("invitation", templating.DEFAULT_INVITATION["fr"], ctx, "fr")
    text, html = identification.add(r.text or "", r.html or "", clinic, "fr")
    return [lambda i=i: _stdlib_message(i, text, html, r.subject or "") for i in range(n)]


def bare_smtplib(port: int, messages: list, concurrency: int) -> float:
    """Seconds to send `messages` (callables building the bytes in the sending thread) over
    `concurrency` persistent connections."""
    import smtplib

    chunks = [messages[i::concurrency] for i in range(concurrency)]
    errors = []

    def worker(chunk):
        try:
            with smtplib.SMTP("127.0.0.1", port) as s:
                for m in chunk:
                    s.sendmail("no-reply@example.org", ["p@example.org"], m())
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


# --- clinicast ----------------------------------------------------------------------------------


def _config(folder: Path, gw_port: int, smtp_port: int, url: str, as_toml: bool = False):
    import pwd

    from core import config as cfg

    login = pwd.getpwuid(os.geteuid()).pw_name
    p = folder / "bench.toml"
    p.write_text(
        f'[clinic]\nname = "Clinique du Parc"\nphone = "514-555-0100"\naddress = "1234 rue Saint-Denis"\n'
        f'[database]\nurl = "{url}"\n'
        f'[gateway]\ntransport = "http"\nurl = "http://127.0.0.1:{gw_port}"\ntoken_env = "BENCH_TOKEN"\n'
        f"concurrency = {GW_CONCURRENCY}\n"
        f'[email]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        f'concurrency = {SMTP_CONCURRENCY}\nfrom = "Clinique du Parc <no-reply@example.org>"\n'
        'unsubscribe_url = "https://app.example.org/unsubscribe"\n'
        # the daemon looks for due work often: its tick is not what is measured
        "[scheduler]\ntick_seconds = 0.1\n"
        # a bench measures sending at any hour (SPEC §11's hours would defer it)
        '[sending]\nhours = "00:00-24:00"\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f'[users.{login}]\nname = "Bench"\npermissions = ["admin"]\n'
    )
    return p if as_toml else cfg.load(p, env={"BENCH_TOKEN": "test-token"})


def _patients(n: int, start: int, app: bool) -> list[str]:
    from core.models import Patient, database

    rows = [
        dict(
            emr_id=str(i),
            emr_key=str(i),
            first_name=f"Prénom{i}",
            last_name="Tremblay",
            email=f"p{i}@example.org",
            app_id=f"a-{i}" if app else None,
            marketing_consent=True,
            push_enabled=True,
            language="fr" if i % 3 else "en",
            search_name=f"prenom{i} tremblay",
        )
        for i in range(start, start + n)
    ]
    with database.atomic():
        for i in range(0, n, 1000):
            Patient.insert_many(rows[i : i + 1000]).execute()
    return [r["emr_id"] for r in rows]


def _broadcast_started(ctx, d, n: int, start: int):
    """A broadcast to n new patients with an app, its put and publishes sent by `d` (a
    Dispatcher: the live broadcast in their feeds), then started: its n pushes due. The
    broadcast and the batches clinicast sends for it (500 app ids, a language each)."""
    from datetime import timedelta

    from core import campaigns, recipients

    ids = _patients(n, start, app=True)
    today = ctx.today()
    tpl = {
        lang: {"title": "Vaccins", "body": "Vaccins à la clinique.", "push": "Un message de {{ clinic.name }}"}
        for lang in ("fr", "en")
    }
    b = campaigns.create(ctx, "broadcast", f"bench {start}", today, today + timedelta(days=1), templates=tpl)
    recipients.assign_ids(ctx, b.id, ids)
    published = d.run_once()
    assert published.sent == n + 1, published
    recipients.start(ctx, b.id)
    fr = [f"a-{i}" for i in range(start, start + n) if i % 3]
    en = [f"a-{i}" for i in range(start, start + n) if not i % 3]
    return b, [lang[i : i + 500] for lang in (fr, en) for i in range(0, len(lang), 500)]


def clinicast_pushes(config, ctx, n: int, start: int) -> tuple[float, float, str, list[list[str]]]:
    """Seconds for the dispatcher to send n pushes, the CPU seconds of this process (the
    pass's threads: the gateway is another process) meanwhile; its broadcast and the
    batches it sent."""
    from core.delivery import Dispatcher

    with Dispatcher(config) as d:
        b, batches = _broadcast_started(ctx, d, n, start)
        t0, c0 = time.perf_counter(), time.process_time()
        stats = d.run_once()  # the pushes: what is measured
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert stats.sent == n, stats
    return took, cpu, b.uuid, batches


_LEDGER_CLAIM = """UPDATE delivery SET status = 'sending', claimed_by = {p}, claim_token = {p}, lease_until = {p}
WHERE id IN (SELECT d.id FROM delivery d JOIN recipient r ON r.id = d.recipient_id
             JOIN patient p ON p.id = r.patient_id
             WHERE d.campaign_id = {p} AND d.kind = 'push' AND d.status = 'pending' AND d.due_at <= {p}
             AND p.language = {p} ORDER BY d.due_at, d.id LIMIT 500)
RETURNING id"""
_LEDGER_READ = """SELECT d.id, r.id, p.app_id FROM delivery d
JOIN recipient r ON r.id = d.recipient_id JOIN patient p ON p.id = r.patient_id
WHERE d.id IN ({ids}) AND d.claim_token = {p} AND p.app_id IS NOT NULL
  AND p.marketing_consent = {true} AND p.push_enabled = {true}"""
_LEDGER_SENT = """UPDATE delivery SET status = 'sent', sent_at = {p}, handed_at = {p}, attempts = attempts + 1,
claimed_by = NULL, claim_token = NULL, lease_until = NULL WHERE claim_token = {p} AND id IN ({ids})"""
_LEDGER_RECIPIENTS = "UPDATE recipient SET status = 'sent', sent_at = {p} WHERE id IN ({ids})"


@contextlib.contextmanager
def _bare_connection(config):
    """A connection of the driver's own to the bench's database (autocommit: each loop
    writes its BEGIN and COMMIT), its parameter mark, its TRUE, and `run(sql, params)`
    that returns the rows."""
    db_url = config.database.url
    if db_url.startswith("sqlite:///"):
        import sqlite3

        con = sqlite3.connect("/" + db_url[len("sqlite:///") :], isolation_level=None)
        con.execute("PRAGMA synchronous = normal")

        def run(sql, params=()):
            return con.execute(sql, params).fetchall()

        try:
            yield "?", "1", run
        finally:
            con.close()
        return
    import psycopg

    pcon = psycopg.connect(db_url, autocommit=True)

    def run_pg(sql, params=()):
        cur = pcon.execute(sql, params)
        return cur.fetchall() if cur.description else []

    try:
        yield "%s", "TRUE", run_pg
    finally:
        pcon.close()


def _ids_in(ids) -> str:
    return ",".join(str(int(i)) for i in ids)


def _bare_push_loop(url: str, broadcast: str, concurrency: int, claim, record) -> tuple[float, float, int]:
    """Seconds, CPU seconds and pushes sent of a bare bookkeeping loop: `claim(token, language)` gives
    rows whose last field is the app id (none: that language is done), the request is
    sent (`concurrency` at a time), then `record(token, rows)`. Timed from the client made
    (as `bare_push_batches` and clinicast's dispatcher, whose client is made before)."""

    async def go() -> tuple[float, float, int]:
        sem = asyncio.Semaphore(concurrency)
        async with _push_client(url, concurrency) as client:

            async def one(token, rows):
                async with sem:
                    await _push(client, broadcast, [r[-1] for r in rows], token)
                record(token, rows)
                return len(rows)

            t0, c0 = time.perf_counter(), time.process_time()
            tasks = []
            for language in ("fr", "en"):
                while rows := claim(token := str(uuid.uuid4()), language):
                    tasks.append(asyncio.ensure_future(one(token, rows)))
                    await asyncio.sleep(0)  # the request claimed starts
            sent = sum(await asyncio.gather(*tasks))
            return time.perf_counter() - t0, time.process_time() - c0, sent

    return asyncio.run(go())


def _statements_alone(claim, record) -> tuple[float, float, int]:
    """Seconds, CPU seconds and rows of a bookkeeping loop's statements alone, no request
    sent: what no overlap of the requests with the database can go below."""
    t0, c0 = time.perf_counter(), time.process_time()
    done = 0
    for language in ("fr", "en"):
        while rows := claim(token := str(uuid.uuid4()), language):
            record(token, rows)
            done += len(rows)
    return time.perf_counter() - t0, time.process_time() - c0, done


def bare_ledger_pushes(
    config, ctx, n: int, start: int, url: str, concurrency: int, send: bool = True
) -> tuple[float, float]:
    """Seconds (and this process's CPU seconds) for the least bookkeeping exactly once
    asks of a push, written bare on the driver, sending n pushes of a broadcast started
    as clinicast's: per batch of 500 rows one statement each to claim them with a lease,
    read their app ids and consent, mark them sent, mark their recipients sent — no
    hand-over mark, no stop or removal race, no pause, no retry, no log, no ledger of
    failures. The same requests as clinicast and the bare httpx loop (500 app ids of one
    language each, `concurrency` at a time); `send=False`: the statements alone."""
    from datetime import timedelta

    from core.delivery import Dispatcher
    from core.models import database

    with Dispatcher(config) as d:
        b, _ = _broadcast_started(ctx, d, n, start)
    database.close()
    now = datetime.now(UTC).replace(tzinfo=None)
    with _bare_connection(config) as (p, true, run):

        def claim(token, language):
            run("BEGIN IMMEDIATE" if p == "?" else "BEGIN")
            rows = run(_LEDGER_CLAIM.format(p=p), ("bench", token, now + timedelta(minutes=5), b.id, now, language))
            got = run(_LEDGER_READ.format(p=p, true=true, ids=_ids_in(r[0] for r in rows) or "NULL"), (token,))
            run("COMMIT")
            return got

        def record(token, rows):
            run("BEGIN IMMEDIATE" if p == "?" else "BEGIN")
            run(_LEDGER_SENT.format(p=p, ids=_ids_in(r[0] for r in rows)), (now, now, token))
            run(_LEDGER_RECIPIENTS.format(p=p, ids=_ids_in(r[1] for r in rows)), (now,))
            run("COMMIT")

        if send:
            took, cpu, sent = _bare_push_loop(url, b.uuid, concurrency, claim, record)
        else:
            took, cpu, sent = _statements_alone(claim, record)
    assert sent == n, sent
    return took, cpu


_BATCH_TABLE = """CREATE TABLE IF NOT EXISTS bench_push_batch (
  token VARCHAR(36) PRIMARY KEY, campaign_id INTEGER NOT NULL, language VARCHAR(2) NOT NULL,
  last_id INTEGER NOT NULL, lease_until TIMESTAMP NOT NULL, sent_at TIMESTAMP)"""
_BATCH_READ = """SELECT r.id, p.app_id FROM recipient r JOIN patient p ON p.id = r.patient_id
WHERE r.campaign_id = {p} AND r.id > (SELECT COALESCE(MAX(last_id), 0) FROM bench_push_batch
                                      WHERE campaign_id = {p} AND language = {p})
  AND r.status = 'queued' AND p.language = {p} AND p.app_id IS NOT NULL
  AND p.marketing_consent = {true} AND p.push_enabled = {true}
ORDER BY r.id LIMIT 500"""


def bare_batch_ledger_pushes(
    config, ctx, n: int, start: int, url: str, concurrency: int, send: bool = True, statuses_only: bool = False
) -> tuple[float, float]:
    """Seconds (and CPU seconds) of the least bookkeeping a ledger kept *per batch*
    instead of per push could do, written bare on the driver: what a redesign of the
    pushes' data model would be bounded by. Per request: one read of the next 500
    recipients (past the last batch's, of one language, with an app and consent) and
    one row claiming them with a lease, in one transaction; after the call, the batch
    marked sent and its recipients' statuses written (SPEC §4: each recipient shows
    sent) — the one write a push that is left per recipient. It reads the recipients
    clinicast started (their push rows are left unused) and sends the same requests.

    `send=False`: the same statements alone, no request — a bound no overlap of the
    requests with the database goes below. `statuses_only` (with `send=False`): of
    those, only the recipients' statuses, one UPDATE of 500 a transaction (the 500 read
    before the clock starts) — what any design that writes each recipient's status as
    its push goes pays, whatever else it keeps."""
    from datetime import timedelta

    from core.delivery import Dispatcher
    from core.models import database

    with Dispatcher(config) as d:
        b, _ = _broadcast_started(ctx, d, n, start)
    database.close()
    now = datetime.now(UTC).replace(tzinfo=None)
    with _bare_connection(config) as (p, true, run):
        run(_BATCH_TABLE)

        def claim(token, language):
            run("BEGIN IMMEDIATE" if p == "?" else "BEGIN")
            rows = run(_BATCH_READ.format(p=p, true=true), (b.id, b.id, language, language))
            if rows:
                run(
                    f"INSERT INTO bench_push_batch VALUES ({p}, {p}, {p}, {p}, {p}, NULL)",
                    (token, b.id, language, rows[-1][0], now + timedelta(minutes=5)),
                )
            run("COMMIT")
            return rows

        def record(token, rows):
            run("BEGIN IMMEDIATE" if p == "?" else "BEGIN")
            if not statuses_only:
                run(f"UPDATE bench_push_batch SET sent_at = {p} WHERE token = {p}", (now, token))
            run(_LEDGER_RECIPIENTS.format(p=p, ids=_ids_in(r[0] for r in rows)), (now,))
            run("COMMIT")

        if send:
            took, cpu, sent = _bare_push_loop(url, b.uuid, concurrency, claim, record)
        elif statuses_only:
            batches = []
            for language in ("fr", "en"):
                while rows := claim(str(uuid.uuid4()), language):
                    batches.append(rows)
            t0, c0 = time.perf_counter(), time.process_time()
            for rows in batches:
                record("", rows)
            took, cpu, sent = time.perf_counter() - t0, time.process_time() - c0, sum(map(len, batches))
        else:
            took, cpu, sent = _statements_alone(claim, record)
    assert sent == n, sent
    return took, cpu


def clinicast_daemon_emails(config, ctx, toml: Path, n: int, start: int) -> float:
    """Seconds for a running `clinicast daemon` to send an invitation to n patients."""
    from core import campaigns, recipients
    from core.models import Delivery

    ids = _patients(n, start, app=False)
    c = campaigns.create(ctx, "invitation", f"bench invitation {start}")
    recipients.assign_ids(ctx, c.id, ids)
    env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_TOKEN="test-token")
    log = open(toml.parent / f"daemon-{start}.log", "w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(toml), "daemon"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        time.sleep(3)  # started, idle: its start-up is not what is measured
        if daemon.poll() is not None:
            raise RuntimeError("the daemon ended: " + (toml.parent / f"daemon-{start}.log").read_text()[-2000:])
        open_ = Delivery.select().where(Delivery.campaign == c.id, Delivery.status != "sent")
        t0 = time.perf_counter()
        recipients.start(ctx, c.id)
        while open_.exists():
            if time.perf_counter() - t0 > 600:
                raise RuntimeError("not sent in 10 minutes")
            time.sleep(0.02)
        return time.perf_counter() - t0
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        log.close()


def rendering_ms(config, n: int = 2000, each: bool = False) -> float:
    """Milliseconds an email costs to render with the dispatcher's writer (no sending);
    `each`: rendered in full for every patient (what clinicast 0.2 did), for comparison."""
    from datetime import date

    from core import identification, templating
    from core.campaigns import clinic_values
    from core.delivery.letters import Letters
    from core.templating.prepared import PER_PATIENT_GROUPS

    letters = Letters(config, lambda: datetime.now(UTC).replace(tzinfo=None))
    clinic = clinic_values(letters.config)
    fields = templating.DEFAULT_INVITATION["fr"]
    contexts = [
        templating.build_context(
            clinic=clinic,
            campaign={},
            language="fr",
            patient={"first_name": f"Prénom{i}", "last_name": "Tremblay", "language": "fr"},
            invitation={
                "url": f"https://app.example.org/join/K7P2QX{i}",
                "code": "K7P2-QX4M",
                "expires_on": date(2026, 12, 24),
            },
            unsubscribe={"url": f"https://app.example.org/unsubscribe/{uuid.uuid4().hex}"},
        )
        for i in range(n)
    ]
    shared = {"clinic": contexts[0]["clinic"]}
    t0 = time.perf_counter()
    for c in contexts:
        if each:
            r = templating.render("invitation", fields, c, "fr")
        else:
            r = letters.prepared(fields, "fr", shared).render({k: c[k] for k in PER_PATIENT_GROUPS})
        identification.add(r.text or "", r.html or "", clinic, "fr")
    return (time.perf_counter() - t0) / n * 1000


def run() -> Figures:
    from core import db as dbmod
    from core.context import for_current_user

    f = Figures()
    folder = Path(tempfile.mkdtemp(prefix="clinicast-bench-"))
    gw = _Server("gateway", "--no-record", "--token", "test-token")
    smtp = _Server("smtp")
    schema = contextlib.ExitStack()
    try:
        pg = os.environ.get("CLINICAST_BENCH_PG_URL")  # in a schema of the run's own, dropped after
        db_url = (
            schema.enter_context(_pg_schema(pg)) if pg else f"sqlite:///{(folder / 'bench.db').as_posix().lstrip('/')}"
        )
        config = _config(folder, gw.port, smtp.port, db_url)
        toml = _config(folder, gw.port, smtp.port, db_url, as_toml=True)
        dbmod.bind(config.database.url)
        dbmod.migrate()
        ctx = for_current_user(config)
        url = f"http://127.0.0.1:{gw.port}"

        if "rendering" in PARTS:
            ms = statistics.median(rendering_ms(config) for _ in range(3))
            full = statistics.median(rendering_ms(config, 300, each=True) for _ in range(3))
            f.note(
                f"rendering an email: {ms:.3f} ms (target <= 0.3 ms): {'ok' if ms <= 0.3 else 'OVER'}; "
                f"rendered in full for each patient: {full:.3f} ms"
            )

        if "pushes" in PARTS:
            # pushes: interleaved rounds, clinicast then the bare loop sending the very same batches,
            # then the bookkeeping floors (each on a broadcast of its own, alike)
            ours, bare, ours_cpu, bare_cpu = [], [], [], []
            floors: dict[str, list[float]] = {}
            floor_loops = {
                "per push": lambda s: bare_ledger_pushes(config, ctx, PUSHES, s, url, GW_CONCURRENCY),
                "per push, statements alone": lambda s: bare_ledger_pushes(
                    config, ctx, PUSHES, s, url, GW_CONCURRENCY, send=False
                ),
                "per batch": lambda s: bare_batch_ledger_pushes(config, ctx, PUSHES, s, url, GW_CONCURRENCY),
                "per batch, statements alone": lambda s: bare_batch_ledger_pushes(
                    config, ctx, PUSHES, s, url, GW_CONCURRENCY, send=False
                ),
                "statuses alone": lambda s: bare_batch_ledger_pushes(
                    config, ctx, PUSHES, s, url, GW_CONCURRENCY, send=False, statuses_only=True
                ),
            }
            for rnd in range(3):
                took, cpu, broadcast, batches = clinicast_pushes(config, ctx, PUSHES, start=100_000 + rnd * PUSHES)
                ours.append(took)
                ours_cpu.append(cpu)
                bare_took, bare_cpu_s = bare_push_batches(url, broadcast, batches, GW_CONCURRENCY)
                bare.append(bare_took)
                bare_cpu.append(bare_cpu_s)
                for i, (what, loop) in enumerate(floor_loops.items()):
                    floors.setdefault(what, []).append(loop(400_000 + i * 100_000 + rnd * PUSHES)[0])
            mine, base = statistics.median(ours), statistics.median(bare)
            f.row(
                f"Push {PUSHES:,} (batches of 500), clinicast dispatcher",
                mine,
                target=base / 0.3,
                baseline=base,
                baseline_what="bare httpx, the same batches",
            )
            f.note(
                f"pushes: clinicast {PUSHES / mine:,.0f}/s, bare {PUSHES / base:,.0f}/s: "
                f"{base / mine:.3f} of bare (target >= 0.3, {base / 0.3 * 1000:.1f} ms); CPU of this process "
                f"{statistics.median(ours_cpu) * 1000:.0f} ms against {statistics.median(bare_cpu) * 1000:.0f} ms "
                f"(the load of the machine inflates seconds more than CPU)"
            )
            meaning = {
                "per push": "the least a ledger row per push writes (claim with a lease, read, mark sent, "
                "the recipients too: one statement each per 500), with the requests",
                "per push, statements alone": "the same statements, no request sent",
                "per batch": "a ledger row per batch of 500 instead (the recipients' statuses still written), "
                "with the requests",
                "per batch, statements alone": "the same statements, no request sent",
                "statuses alone": "only the recipients' statuses, one UPDATE of 500 a transaction: what any "
                "design that writes each recipient's status as its push goes pays",
            }
            for what, runs in floors.items():
                t = statistics.median(runs)
                of_it = f"; clinicast {t / mine:.3f} of it" if what == "per push" else ""
                f.note(
                    f"floor, {what} — {meaning[what]}, bare on the driver: {t * 1000:.1f} ms, "
                    f"{base / t:.3f} of bare httpx{of_it}"
                )

        if "emails" in PARTS:
            builders = stdlib_builders(EMAILS)
            ours, bare = [], []
            for rnd in range(3):
                bare.append(bare_smtplib(smtp.port, builders, SMTP_CONCURRENCY))
                ours.append(clinicast_daemon_emails(config, ctx, toml, EMAILS, start=200_000 + rnd * EMAILS))
            mine, base = statistics.median(ours), statistics.median(bare)
            f.row(
                f"Email {EMAILS:,} invitations, clinicast daemon, {SMTP_CONCURRENCY} connections",
                mine,
                target=base / 0.8,
                baseline=base,
                baseline_what="stdlib EmailMessage built each, 2 connections",
            )
            f.note(
                f"emails: clinicast {EMAILS / mine:,.0f}/s, bare {EMAILS / base:,.0f}/s: "
                f"{base / mine:.3f} of bare (target >= 0.8)"
            )
    finally:
        gw.close()
        smtp.close()
        try:
            from core.models import database

            database.close()
        except Exception:  # noqa: BLE001
            pass
        schema.close()
    return f


if __name__ == "__main__":
    Figures.echo = True
    run()
