"""A history that does not slow the day (issue #21, item 3): on a database of 200
campaigns and 1,000,000 recipient rows (`bench.world`), the commands staff run every
day, each the median of three runs, each beside a bare baseline doing the same work in
the same run:

- `clinicast --version`                     (baseline: `python -c pass`)
- `clinicast campaigns list` and `status`   (baseline: a bare Python process opening the
  database with its driver and running one grouped count of recipients by campaign and
  status, plus one of the invitation funnel)
- the TUI, from start to the campaign list shown (in-process, Pilot)

The whole processes run clinicast as a clinic's server has it: installed, not editable,
into a virtual environment of its own, as deploy/install.sh does (`_installed`); the
bare processes run in that same environment. A developer's editable install adds an
import hook that no clinic runs (~0.014 s at every start, measured: `python -c pass`
0.028 -> 0.014 s).

Targets: list and status ≤ 0.25 s, --version ≤ 0.08 s, TUI ≤ 0.4 s (both databases).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figures, median_of, pg_base_url
from bench.world import N_CAMPAIGNS, N_PATIENTS, PER_CAMPAIGN, world_backends
from core import tally
from core.db import is_postgres
from core.delivery import retention
from core.models import Campaign, Recipient, database, utcnow

TARGETS = {"version": 0.08, "list": 0.25, "status": 0.25, "tui": 0.4}

_BARE = r"""
import sys
url = sys.argv[1]
if url.startswith("sqlite:///"):
    import sqlite3
    con = sqlite3.connect("/" + url[len("sqlite:///"):])
else:
    import psycopg
    con = psycopg.connect(url.replace("postgresql://", "postgresql://", 1))
cur = con.cursor()
cur.execute("SELECT id, name, kind, first_started_at FROM campaign WHERE archived = %s ORDER BY updated_at DESC"
            .replace("%s", "?" if url.startswith("sqlite") else "%s"), (False,))
camps = cur.fetchall()
cur.execute("SELECT campaign_id, status, COUNT(id) FROM recipient GROUP BY campaign_id, status")
counts = cur.fetchall()
cur.execute("SELECT campaign_id, COUNT(DISTINCT patient_id),"
            " COUNT(DISTINCT CASE WHEN joined_at IS NOT NULL THEN patient_id END) FROM invitation GROUP BY campaign_id")
funnel = cur.fetchall()
print(len(camps), len(counts), len(funnel))
"""


def _run(*argv: str, env: dict | None = None) -> tuple[float, float]:
    """One whole process: (wall seconds, CPU seconds it used, user + system)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), argv)
    return wall, usage.ru_utime + usage.ru_stime


def _medians(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """A whole process run three times: (median wall seconds, median CPU seconds)."""
    runs = [_run(*argv, env=env) for _ in range(3)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def _process_row(
    figures: Figures, what: str, argv: list[str], env: dict | None, target: float, bare: list[str], bare_what: str
) -> None:
    """A whole process's row: the median wall time of three runs against its target and a
    bare process's, and in a note the median CPU time of each — on a shared machine a
    process waits for a core, and its CPU time is what it costs."""
    wall, cpu = _medians(argv, env)
    bare_wall, bare_cpu = _medians(bare)
    figures.row(what, wall, target, baseline=bare_wall, baseline_what=bare_what)
    figures.note(f"{what}: CPU {cpu:.3f} s a run (bare: {bare_cpu:.3f} s)")


async def _tui_start(config: Path) -> float:
    from tui.app import make_app
    from tui.screens.campaign_list import CampaignListScreen

    app = make_app(config, scheduler=False, blink=False)
    t0 = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        while not (isinstance(app.screen, CampaignListScreen) and app.screen._order):
            if time.perf_counter() - t0 > 60:
                raise TimeoutError("the campaign list never showed")
            await asyncio.sleep(0.002)
        took = time.perf_counter() - t0
        await pilot.press("q")
    return took


async def _bare_tui_start(url: str) -> float:
    """The bare baseline of the TUI's start: a minimal Textual app that opens the
    database with its driver, runs the same grouped counts and shows one DataTable row
    a campaign (name, kind, counts by status)."""
    from textual.app import App
    from textual.widgets import DataTable

    class Bare(App):
        def compose(self):
            yield DataTable()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("name", "kind", "counts")
            if url.startswith("sqlite:///"):
                import sqlite3

                con = sqlite3.connect("/" + url[len("sqlite:///") :])
                mark = "?"
            else:
                import psycopg

                con = psycopg.connect(url)
                mark = "%s"
            cur = con.cursor()
            cur.execute(
                f"SELECT id, name, kind FROM campaign WHERE archived = {mark} ORDER BY updated_at DESC", (False,)
            )
            camps = cur.fetchall()
            cur.execute("SELECT campaign, status, SUM(n) FROM recipient_tally GROUP BY campaign, status")
            counts: dict = {}
            for cid, status, n in cur.fetchall():
                counts.setdefault(cid, []).append(f"{status} {n}")
            con.close()
            for cid, name, kind in camps:
                table.add_row(name, kind, ", ".join(counts.get(cid, [])))

    app = Bare()
    t0 = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.query_one(DataTable).row_count:
            if time.perf_counter() - t0 > 60:
                raise TimeoutError("the bare table never filled")
            await asyncio.sleep(0.002)
        took = time.perf_counter() - t0
        await pilot.press("q")
    return took


def _installed(folder: Path) -> Path:
    """A virtual environment with clinicast installed from this source tree as
    deploy/install.sh installs it (`python -m venv`, then `pip install SRC`: not
    editable, modules compiled); its bin folder."""
    root = Path(__file__).resolve().parent.parent
    venv = folder / "installed"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(root)], check=True, stdout=subprocess.DEVNULL)
    return venv / "bin"


def measure(label: str, config: Path, url: str, figures: Figures, installed: Path) -> None:
    env = {**os.environ, "CLINICAST_CONFIG": str(config)}
    clinicast = str(installed / "clinicast")
    n_camps, n_rows = Campaign.select().count(), Recipient.select().count()
    # what the daemon's housekeeping does on such a history: one run of outbox retention
    # (at most 20 batches of 500 old finished rows), PostgreSQL's counts folded
    t0 = time.perf_counter()
    pruned = retention.prune(utcnow(), 90)
    tally.fold()
    if is_postgres():  # and what autovacuum has done to a database two years old: counts read indexes alone
        database.execute_sql("VACUUM ANALYZE patient, recipient, delivery, invitation, recipient_tally")
    figures.note(
        f"{label}: one housekeeping run deleted {pruned:,} old outbox rows in {time.perf_counter() - t0:.1f} s "
        f"({retention.BATCH} a transaction); {retention.outbox_size():,} rows in the outbox"
    )
    database.close()
    what = f"{n_camps} campaigns, {n_rows:,} recipient rows"
    bare = [str(installed / "python"), "-c", _BARE, url]
    for command, words in ((["campaigns", "list"], "campaigns list"), (["status"], "status")):
        _process_row(
            figures,
            f"{label}: {words} ({what})",
            [clinicast, *command],
            env,
            TARGETS[command[-1]],
            bare,
            "bare driver process: the same counts, grouped",
        )
    figures.row(
        f"{label}: TUI start to the campaign list shown",
        median_of(lambda: asyncio.run(_tui_start(config))),
        TARGETS["tui"],
        baseline=median_of(lambda: asyncio.run(_bare_tui_start(url))),
        baseline_what="a minimal Textual app: the same counts in one DataTable",
    )


def _bytecode() -> None:
    """clinicast's modules compiled, as an installed package has them (pip compiles at
    install): with PYTHONDONTWRITEBYTECODE set, as in a shared session, each command
    would compile ~40 modules from source again (0.03 s)."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in ("core", "cli", "tui"):
        compileall.compile_dir(root / package, quiet=1)


def run() -> Figures:
    figures = Figures()
    _bytecode()  # for the TUI's start, measured in this process
    with tempfile.TemporaryDirectory(prefix="clinicast-bench-history-") as d:
        folder = Path(d)
        t0 = time.perf_counter()
        installed = _installed(folder)
        figures.note(f"clinicast installed as deploy/install.sh does in {time.perf_counter() - t0:.0f} s")
        _process_row(
            figures,
            "clinicast --version (a whole process)",
            [str(installed / "clinicast"), "--version"],
            None,
            TARGETS["version"],
            [str(installed / "python"), "-c", "pass"],
            "python -c pass",
        )
        if pg_base_url():  # what the PostgreSQL driver's import alone costs a process, this run
            wall, cpu = _medians([str(installed / "python"), "-c", "import psycopg"])
            figures.note(
                f"python -c 'import psycopg': {wall:.3f} s (CPU {cpu:.3f} s), the driver every PostgreSQL command loads"
            )
        t0 = time.perf_counter()
        for label, url in world_backends(folder):
            figures.note(f"{label}: world ready in {time.perf_counter() - t0:.0f} s")
            measure(label, folder / "bench.toml", url, figures, installed)
            t0 = time.perf_counter()
    return figures


__all__ = ["N_CAMPAIGNS", "N_PATIENTS", "PER_CAMPAIGN", "run"]

if __name__ == "__main__":
    print(run().text())
