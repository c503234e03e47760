"""TUI benchmarks, measured with Pilot on a SQLite demo world (issue 4 targets):

- start to first screen (campaign list shown)                 ≤ 1.0 s
- opening a campaign with 5,000 recipients (table + counts)   ≤ 0.5 s
- one search keystroke on it (table refilled)                 ≤ 150 ms
- the longest event-loop freeze while assigning 5,000         ≤ 250 ms

`run() -> dict` returns the figures (seconds) and the targets; `python -m bench.bench_tui`
prints them.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"start_s": 1.0, "open_5000_s": 0.5, "search_keystroke_s": 0.150, "assign_5000_max_freeze_s": 0.250}
N_PATIENTS = 12_000
N_RECIPIENTS = 5_000


class FreezeMeter:
    """Ticks every `period` on the event loop; the longest gap is the longest freeze."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.longest = 0.0
        self._task: asyncio.Task | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - self.period)
            last = now

    def __enter__(self):
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()


async def _until(pilot, predicate, timeout: float = 30.0, step: float = 0.002) -> float:
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the screen did not get there")
        await asyncio.sleep(step)
    return time.perf_counter()


def build_world(folder: Path):
    """12,000 patients; campaign A with 5,000 recipients; an id list of 5,000 others."""
    from core import campaigns, demo, recipients
    from core import config as cfg
    from core import db as dbmod
    from core.context import for_current_user

    path = folder / "clinicast.toml"
    path.write_text(demo.config_text(folder, embedded="never"), encoding="utf-8")
    config = cfg.load(path)
    dbmod.bind(config.database.url)
    dbmod.migrate()
    ctx = for_current_user(config)
    demo.add_patients(ctx, N_PATIENTS, folder=folder)
    first = campaigns.create(ctx, "invitation", "Bench — 5,000 recipients")
    recipients.assign_ids(ctx, first.id, [str(100001 + i) for i in range(N_RECIPIENTS)])
    second = campaigns.create(ctx, "invitation", "Bench — assign 5,000")
    ids = folder / "ids.csv"
    ids.write_text("emr_id\n" + "\n".join(str(100001 + N_RECIPIENTS + i) for i in range(N_RECIPIENTS)) + "\n")
    dbmod.database.close()
    return path, first.id, second.id, ids


async def _measure(path: Path, big_id: int, target_id: int, ids: Path) -> dict:
    from textual.widgets import DataTable, TabbedContent

    from tui.app import make_app
    from tui.screens.add_patients import AddPatientsModal
    from tui.screens.campaign_list import CampaignListScreen
    from tui.screens.recipients import RecipientsScreen

    out = {}
    app = make_app(path, scheduler=False, blink=False)
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        t1 = await _until(pilot, lambda: isinstance(app.screen, CampaignListScreen) and app.screen._order)
        out["start_s"] = t1 - t0
        await pilot.pause(0.2)

        # open the campaign with 5,000 recipients
        screen = app.screen
        screen.query_one(DataTable).move_cursor(row=screen._order.index(big_id))
        t0 = time.perf_counter()
        await pilot.press("enter")
        t1 = await _until(
            pilot,
            lambda: (
                isinstance(app.screen, RecipientsScreen)
                and app.screen.summary is not None
                and len(app.screen.table.order) > 0
            ),
        )
        await pilot.pause(0)  # the frame that shows them
        out["open_5000_s"] = time.perf_counter() - t0
        rec = app.screen
        await app.workers.wait_for_complete()

        # one search keystroke
        await pilot.press("slash", "1", "0")
        await _until(pilot, lambda: rec._search_text() == "10")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        before = list(rec.table.order)
        t0 = time.perf_counter()
        await pilot.press("4")  # "104": EMR ids 104…
        await _until(pilot, lambda: rec.table.order != before)
        await pilot.pause(0)
        out["search_keystroke_s"] = time.perf_counter() - t0
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("escape")
        await pilot.pause(0.2)

        # assign 5,000 from an id list, watching the event loop
        screen = app.screen
        screen.query_one(DataTable).move_cursor(row=screen._order.index(target_id))
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, RecipientsScreen) and app.screen.summary is not None)
        rec = app.screen
        await app.workers.wait_for_complete()
        await pilot.press("a")
        await _until(pilot, lambda: isinstance(app.screen, AddPatientsModal))
        modal = app.screen
        modal.query_one(TabbedContent).active = "tab-csv"
        await pilot.pause(0.1)
        modal.query_one("#csv-path").value = str(ids)
        await pilot.pause(0.05)
        with FreezeMeter() as meter:
            t0 = time.perf_counter()
            await pilot.press("enter")  # read and check the list
            await _until(pilot, lambda: modal.report is not None)
            await pilot.press("ctrl+s")  # assign the 5,000
            await _until(
                pilot,
                lambda: (
                    app.screen is rec
                    and rec.summary is not None
                    and rec.summary.total >= N_RECIPIENTS
                    and len(rec.table.order) > 0
                ),
                timeout=60,
            )
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            out["assign_5000_s"] = time.perf_counter() - t0
        out["assign_5000_max_freeze_s"] = meter.longest
    return out


def run() -> dict:
    """Build the world in a temp folder, measure, return {figure: seconds, "targets": …}."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    with tempfile.TemporaryDirectory(prefix="clinicast-bench-tui-") as tmp:
        t = time.perf_counter()
        path, big, target, ids = build_world(Path(tmp))
        setup = time.perf_counter() - t
        figures = asyncio.run(_measure(path, big, target, ids))
    figures = {k: round(v, 4) for k, v in figures.items()}
    figures["setup_s"] = round(setup, 2)
    figures["targets"] = TARGETS
    figures["ok"] = all(figures[k] <= v for k, v in TARGETS.items())
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
