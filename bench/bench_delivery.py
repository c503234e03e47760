"""Delivery throughput: 5,000 pushes to a loopback gateway, 1,000 emails to a loopback SMTP
server, each beside a bare loop with the same concurrency against the same server in the
same run.

- gateway: the test gateway (tests/servers.py) in a process of its own; bare loop = one
  httpx.AsyncClient, asyncio.gather + a semaphore of `[gateway] concurrency`, one POST
  /v1/push per key; clinicast = `Dispatcher.run_once()` on a broadcast started for 5,000
  patients, timed from the start (the put and the 10 publish batches of 500 that put
  it in the feeds went out before, at assign time).
- SMTP: the aiosmtpd test server in a process of its own; bare loop = `[email]
  concurrency` threads, each one smtplib connection, sending pre-built messages of the
  same shape and size; clinicast = an invitation started for 1,000 patients (claim,
  invitation rows, template rendering, MIME, send, record).

Target: clinicast keeps at least 0.7 of the bare loop's rate. The database is SQLite
(set CLINICAST_BENCH_PG_URL to use PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUSHES = int(os.environ.get("CLINICAST_BENCH_PUSHES", 5000))
EMAILS = int(os.environ.get("CLINICAST_BENCH_EMAILS", 1000))
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


def bare_httpx(url: str, n: int, concurrency: int) -> float:
    import httpx

    async def go() -> float:
        sem = asyncio.Semaphore(concurrency)
        headers = {"Authorization": "Bearer test-token", "User-Agent": "clinicast/bench"}
        async with httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=10,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        ) as client:

            async def one(i: int):
                async with sem:
                    r = await client.post(
                        "/v1/push",
                        json={
                            "app_id": f"a-{i}",
                            "title": "Vaccins",
                            "body": f"Bonjour Prénom{i}, un message",
                            "data": {"broadcast_id": "bench"},
                        },
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    r.raise_for_status()

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            return time.perf_counter() - t0

    return n / asyncio.run(go())


def bare_httpx_lanes(url: str, n: int, concurrency: int) -> float:
    """The same loop with one single-connection client per worker (clinicast's pool shape)."""
    import httpx

    async def go() -> float:
        headers = {"Authorization": "Bearer test-token", "User-Agent": "clinicast/bench"}
        todo = iter(range(n))

        async def worker():
            async with httpx.AsyncClient(
                base_url=url, headers=headers, timeout=10, limits=httpx.Limits(max_connections=1)
            ) as client:
                for i in todo:
                    r = await client.post(
                        "/v1/push",
                        json={
                            "app_id": f"a-{i}",
                            "title": "Vaccins",
                            "body": f"Bonjour Prénom{i}, un message",
                            "data": {"broadcast_id": "bench"},
                        },
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0

    return n / asyncio.run(go())


def bare_smtplib(port: int, messages: list, concurrency: int) -> float:
    """`messages`: bytes (sent as they are) or callables building the bytes (called in the
    sending thread, as a hand-written loop would)."""
    import smtplib

    chunks = [messages[i::concurrency] for i in range(concurrency)]
    errors = []

    def worker(chunk):
        try:
            with smtplib.SMTP("127.0.0.1", port) as s:
                for m in chunk:
                    s.sendmail("no-reply@example.org", ["p@example.org"], m() if callable(m) else m)
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
    return len(messages) / (time.perf_counter() - t0)


# --- clinicast ----------------------------------------------------------------------------------


def _config(folder: Path, gw_port: int, smtp_port: int):
    import pwd

    from core import config as cfg

    login = pwd.getpwuid(os.geteuid()).pw_name
    url = os.environ.get("CLINICAST_BENCH_PG_URL") or f"sqlite:///{(folder / 'bench.db').as_posix().lstrip('/')}"
    p = folder / "bench.toml"
    p.write_text(
        f'[clinic]\nname = "Clinique du Parc"\nphone = "514-555-0100"\naddress = "1234 rue Saint-Denis"\n'
        f'[database]\nurl = "{url}"\n'
        f'[gateway]\ntransport = "http"\nurl = "http://127.0.0.1:{gw_port}"\ntoken_env = "BENCH_TOKEN"\n'
        f"concurrency = {GW_CONCURRENCY}\n"
        f'[email]\ntransport = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        f'concurrency = {SMTP_CONCURRENCY}\nfrom = "Clinique du Parc <no-reply@example.org>"\n'
        'unsubscribe_url = "https://app.example.org/unsubscribe"\n'
        # a bench measures sending at any hour (SPEC §11's hours would defer it)
        '[sending]\nhours = "00:00-24:00"\ndays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        f'[users.{login}]\nname = "Bench"\npermissions = ["admin"]\n'
    )
    return cfg.load(p, env={"BENCH_TOKEN": "test-token"})


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


def clinicast_pushes(config, ctx, n: int, start: int = 100_000) -> float:
    from datetime import timedelta

    from core import campaigns, recipients
    from core.delivery import Dispatcher

    ids = _patients(n, start, app=True)
    today = ctx.today()
    tpl = {
        lang: {
            "title": "Vaccins",
            "body": "Vaccins à la clinique.",
            "push": "Un message de {{ clinic.name }}",
        }
        for lang in ("fr", "en")
    }
    b = campaigns.create(ctx, "broadcast", f"bench {start}", today, today + timedelta(days=1), templates=tpl)
    recipients.assign_ids(ctx, b.id, ids)
    with Dispatcher(config) as d:
        published = d.run_once()  # the live broadcast goes into the feeds (put + publishes)
        recipients.start(ctx, b.id)
        t0 = time.perf_counter()
        stats = d.run_once()  # the pushes: what is measured
        took = time.perf_counter() - t0
    assert published.sent == n + 1 and stats.sent == n, (published, stats)
    return n / took


def clinicast_emails(config, ctx, n: int, start: int = 200_000) -> float:
    from core import campaigns, recipients
    from core.delivery import Dispatcher

    ids = _patients(n, start, app=False)
    c = campaigns.create(ctx, "invitation", f"bench invitation {start}")
    recipients.assign_ids(ctx, c.id, ids)
    recipients.start(ctx, c.id)
    with Dispatcher(config) as d:
        t0 = time.perf_counter()
        stats = d.run_once()
        took = time.perf_counter() - t0
    assert stats.sent == n, stats
    return n / took


def message_builders(n: int) -> list:
    """Callables building messages like clinicast's invitations: the default template
    rendered for one patient (core.templating), then serialised (core.channels.compose)."""
    from datetime import date

    from core import identification, templating
    from core.channels import compose

    clinic = {"name": "Clinique du Parc", "phone": "514-555-0100", "address": "1234 rue Saint-Denis"}

    def build(i: int) -> bytes:
        link = f"https://app.example.org/unsubscribe/{uuid.uuid4().hex}"
        ctx = templating.build_context(
            clinic=clinic,
            campaign={},
            language="fr",
            patient={"first_name": f"Prénom{i}", "last_name": "Tremblay", "language": "fr"},
            invitation={
                "url": "https://app.example.org/join/K7P2QX4M",
                "code": "K7P2-QX4M",
                "expires_on": date(2026, 12, 24),
            },
            unsubscribe={"url": link},
        )
        r = templating.render("invitation", templating.DEFAULT_INVITATION["fr"], ctx)
        text, html = identification.add(r.text or "", r.html or "", clinic, "fr")
        return compose.build(
            sender="Clinique du Parc <no-reply@example.org>",
            to=compose.address(f"Prénom{i} Tremblay", f"p{i}@example.org"),
            subject=r.subject or "",
            text=text,
            html=html,
            key=str(uuid.uuid4()),
            language="fr",
            list_unsubscribe=link,
        )

    return [lambda i=i: build(i) for i in range(n)]


def run() -> dict:
    from core import db as dbmod
    from core.context import for_current_user

    out: dict = {}
    folder = Path(tempfile.mkdtemp(prefix="clinicast-bench-"))
    gw = _Server("gateway", "--no-record", "--token", "test-token")
    smtp = _Server("smtp")
    try:
        config = _config(folder, gw.port, smtp.port)
        dbmod.bind(config.database.url)
        dbmod.migrate()
        ctx = for_current_user(config)
        url = f"http://127.0.0.1:{gw.port}"

        bare_httpx(url, 300, GW_CONCURRENCY)  # warm up both sides
        # interleaved, best of two each: the loopback figures move by ±20 % from run to run
        pooled, lanes, ours = [], [], []
        for rnd in range(2):
            pooled.append(bare_httpx(url, PUSHES, GW_CONCURRENCY))
            lanes.append(bare_httpx_lanes(url, PUSHES, GW_CONCURRENCY))
            ours.append(clinicast_pushes(config, ctx, PUSHES, start=100_000 + rnd * PUSHES))
        pooled, lanes, ours = max(pooled), max(lanes), max(ours)
        best = max(pooled, lanes)
        out[f"push: bare httpx loop, one pooled client, {GW_CONCURRENCY} in flight (sends/s)"] = round(pooled, 1)
        out[f"push: bare httpx loop, {GW_CONCURRENCY} one-connection clients (sends/s)"] = round(lanes, 1)
        out[f"push: clinicast dispatcher, {PUSHES} pushes (sends/s)"] = round(ours, 1)
        out["push: clinicast / best bare loop"] = round(ours / best, 3)

        builders = message_builders(EMAILS)
        prebuilt = [b() for b in builders]
        wire, bare_m, ours_m = [], [], []
        for rnd in range(2):
            wire.append(bare_smtplib(smtp.port, prebuilt, SMTP_CONCURRENCY))
            bare_m.append(bare_smtplib(smtp.port, builders, SMTP_CONCURRENCY))
            ours_m.append(clinicast_emails(config, ctx, EMAILS, start=200_000 + rnd * EMAILS))
        wire, bare_m, ours_m = max(wire), max(bare_m), max(ours_m)
        out[f"email: smtplib, pre-built messages, {SMTP_CONCURRENCY} connections (sends/s)"] = round(wire, 1)
        out[f"email: bare smtplib loop rendering each, {SMTP_CONCURRENCY} connections (sends/s)"] = round(bare_m, 1)
        out[f"email: clinicast dispatcher, {EMAILS} invitations (sends/s)"] = round(ours_m, 1)
        out["email: clinicast / bare loop"] = round(ours_m / bare_m, 3)
        out["email: clinicast / pre-built"] = round(ours_m / wire, 3)
        out["target"] = "≥ 0.7 of bare"
    finally:
        gw.close()
        smtp.close()
        try:
            from core.models import database

            database.close()
        except Exception:  # noqa: BLE001
            pass
    return out


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:60} {v}")
