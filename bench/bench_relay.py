"""Exactly once at an ordinary slow relay: the scenario of the exactly-once issue, through
the real `clinicast daemon` process, counted where patients receive it.

N invitations are started, then one daemon (SQLite; two on PostgreSQL with
CLINICAST_BENCH_PG_URL) sends them to the loopback aiosmtpd server of the tests, which
takes DELAY seconds a message, with a lease shorter than the whole run. The figures are
messages received per envelope recipient: duplicates (more than one) and losses (none).

Defaults are the issue's reproduction (1,457 patients, 20 ms a message, a 4 s lease: 462
duplicates before the fix). `CLINICAST_BENCH_RELAY="1500,0.15,60"` runs its first
scenario (1,500 patients, 150 ms, the default 60 s lease; about two minutes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def run() -> dict[str, float | str]:
    from servers import SmtpServer, delivery_config

    from core import campaigns, recipients
    from core import db as dbmod
    from core.context import for_current_user
    from core.models import Delivery, Patient, database

    n, delay, lease = (float(x) for x in os.environ.get("CLINICAST_BENCH_RELAY", "1457,0.02,4").split(","))
    n = int(n)
    pg = os.environ.get("CLINICAST_BENCH_PG_URL")
    with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp:
        folder = Path(tmp)
        url = pg or f"sqlite:///{(folder / 'relay.db').as_posix().lstrip('/')}"
        smtp.delay = delay
        config = delivery_config(url, folder, smtp=smtp)
        dbmod.bind(url)
        dbmod.migrate()
        ctx = for_current_user(config)
        with database.atomic():
            Patient.insert_many(
                [
                    dict(emr_id=str(i), emr_key=str(i), first_name=f"P{i}", email=f"p{i}@example.org", language="fr")
                    for i in range(1, n + 1)
                ]
            ).execute()
        c = campaigns.create(ctx, "invitation", "relay")
        recipients.assign_ids(ctx, c.id, [str(i) for i in range(1, n + 1)])
        recipients.start(ctx, c.id)
        path = delivery_config(url, folder, smtp=smtp, as_toml=True, scheduler={"lease_seconds": lease})
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        daemons = [
            subprocess.Popen(
                [sys.executable, "-m", "cli", "daemon", "--config", str(path)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / f"daemon-{i}.log", "w"),
            )
            for i in range(2 if pg else 1)
        ]
        t0 = time.monotonic()
        try:
            open_ = ("pending", "sending", "retrying")
            while time.monotonic() - t0 < 20 * 60:
                if not Delivery.select().where(Delivery.status.in_(open_)).exists():
                    break
                time.sleep(0.5)
            else:
                raise RuntimeError("not done in 20 minutes: " + (folder / "daemon-0.log").read_text()[-2000:])
            took = time.monotonic() - t0
            if any(d.poll() is not None for d in daemons):
                raise RuntimeError("a daemon ended early: " + (folder / "daemon-0.log").read_text()[-2000:])
        finally:
            for d in daemons:
                d.send_signal(signal.SIGTERM)
            for d in daemons:
                d.wait(60)
        with smtp.lock:
            got = Counter(m.rcpt_tos[0] for m in smtp.messages)
        database.close()
    return {
        "patients": str(n),
        "seconds a message at the relay": delay,
        "lease seconds": lease,
        "daemons": str(len(daemons)),
        "run seconds (several leases)": took,
        "messages received": str(sum(got.values())),
        "duplicates (target 0)": str(sum(got.values()) - len(got)),
        "patients with no message (target 0)": str(n - len(got)),
    }
