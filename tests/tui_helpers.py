"""Builders for the TUI tests: a small demo world on SQLite with a frozen clock, the
app made by the same factory as the command line, and a way to wait until it is idle."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Self

import pytest
from textual.notifications import Notification, Notifications

from core import config as cfg
from core import context, demo
from core import db as dbmod
from core.context import Ctx
from tui.app import ClinicastApp, make_app
from tui.screens.campaign_list import CampaignListScreen
from tui.screens.recipients import RecipientsScreen

FROZEN = datetime(2025, 6, 2, 16, 0)  # noon in Montréal on fakedata's reference day
LOGIN = "mlaval"
USER_NAME = "Marie Laval"
SIZES = [(80, 24), (120, 40)]
SIZE_IDS = ["80x24", "120x40"]


class FrozenClock:
    def __init__(self, at: datetime = FROZEN):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    folder: Path
    config_path: Path
    ctx: Ctx | None
    campaigns: demo.DemoCampaigns | None
    clock: FrozenClock


def users_toml(
    login: str = LOGIN, name: str = USER_NAME, permissions=("campaigns", "admin"), language: str = "en"
) -> str:
    """A [users.LOGIN] table; English unless told (the demo clinic's default is French)."""
    perms = ", ".join(f'"{p}"' for p in permissions)
    lang = f'language = "{language}"\n' if language else ""
    return f'[users.{login}]\nname = "{name}"\npermissions = [{perms}]\n{lang}'


def write_config(
    folder: Path,
    *,
    embedded: str = "never",
    tick_seconds: float = 0.2,
    users: str | None = None,
    default_language: str | None = None,
) -> Path:
    """The demo's config in `folder`; `default_language` replaces the demo clinic's ("fr")."""
    text = demo.config_text(folder, embedded=embedded, tick_seconds=tick_seconds, login=LOGIN)
    text = text[: text.index("[users.")] + (users if users is not None else users_toml())
    if default_language is not None:
        text = text.replace('default_language = "fr"', f'default_language = "{default_language}"', 1)
    path = folder / "clinicast.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_world(
    folder: Path,
    n_patients: int = 60,
    *,
    embedded: str = "never",
    populate: bool = True,
    migrate: bool = True,
    clock: FrozenClock | None = None,
    import_folder: Path | None = None,
) -> World:
    """A demo world in `folder` (the login must be LOGIN: use the `as_mlaval` fixture);
    its patients imported from a CSV file written in `import_folder` (else `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    clock = clock or FrozenClock()
    path = write_config(folder, embedded=embedded)
    config = cfg.load(path, env={})
    dbmod.bind(config.database.url)
    ctx = camps = None
    if migrate:
        dbmod.migrate()
        ctx = context.for_current_user(config, clock)
        if populate:
            camps = demo.populate(ctx, n_patients, folder=import_folder or folder)
    return World(folder, path, ctx, camps, clock)


def copy_world(world: World, folder: Path) -> World:
    """The same world in another folder (a copy of its database file): cheap per-test worlds."""
    folder.mkdir(parents=True, exist_ok=True)
    dbmod.database.close()
    shutil.copy(world.folder / "clinicast.db", folder / "clinicast.db")
    path = write_config(folder)
    config = cfg.load(path, env={})
    dbmod.bind(config.database.url)
    ctx = context.for_current_user(config, world.clock)
    return World(folder, path, ctx, world.campaigns, world.clock)


def module_world(name: str, n_patients: int = 60):
    """A module-scoped fixture: one demo world for the module, made with the login patched
    to LOGIN; each test copies it (`base_world = module_world("staff")`)."""

    @pytest.fixture(scope="module")
    def base_world(tmp_path_factory) -> World:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(context, "login_name", lambda: LOGIN)
            return make_world(tmp_path_factory.mktemp(name), n_patients=n_patients)

    return base_world


@pytest.fixture
def copied_world(base_world, tmp_path, as_mlaval) -> World:
    """A fixture: the test's own copy of the module's `base_world`, run as LOGIN
    (`world = copied_world`)."""
    return copy_world(base_world, tmp_path / "w")


def app_for(world: World, **kw) -> ClinicastApp:
    kw.setdefault("scheduler", False)
    kw.setdefault("blink", False)
    app = make_app(world.config_path, clock=world.clock, **kw)
    app._notifications = KeptNotifications()
    app.start_folder = str(world.folder / "exports") if (world.folder / "exports").exists() else None
    return app


def busy_workers(app) -> list:
    """The workers settle waits for: not DirectoryTree's loader (it never ends), nor a flow
    whose screen is covered by another (it waits for that screen's answer)."""
    from textual.app import App

    def on_top(node) -> bool:
        if isinstance(node, App):
            return True
        try:
            return node.screen is app.screen
        except Exception:  # noqa: BLE001 - a widget no longer on any screen: its worker is moot
            return False

    return [w for w in app.workers if w.group != "_loader" and not w.is_finished and on_top(w.node)]


def pending_timers(app) -> list:
    """The one-shot timers (`set_timer`: a debounce, a deferred step) still to fire on any
    screen of the stack: what the app will do without a key pressed. Not the intervals (a
    screen's refresh tick, a cursor's blink: they never end), nor a notice's own expiry."""
    from textual.widgets._toast import Toast, ToastRack

    nodes = [app]
    for screen in app.screen_stack:
        nodes.extend(screen.walk_children(with_self=True))
    return [
        t
        for node in nodes
        if not isinstance(node, (Toast, ToastRack))
        for t in list(node._timers)
        if t._repeat == 0 and t._task is not None and not t._task.done() and t._active.is_set()
    ]


class KeptNotifications(Notifications):
    """The app's notices, kept until the app or the test clears them. A notice's timeout is
    wall-clock time (Textual reaps it, its toast's timer removes it): on a loaded machine the
    seconds a test takes to settle could make a notice vanish before it is read (#22)."""

    def _reap(self) -> Self:
        return self

    def __delitem__(self, notification: Notification) -> None:
        pass  # a toast's expiry: the test reads what was said, not what is still drawn


async def settle(pilot, delay: float = 0.0, rounds: int = 6, timeout: float = 300.0) -> None:
    """Wait until no worker runs, no one-shot timer (a debounce) is left to fire and the
    screen has been refreshed: the app's own events end the wait, not a clock. `delay` is
    an extra pause first; `timeout` only guards a hang (a loaded machine is slow, not hung)."""
    app = pilot.app
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    if delay:
        await _pause(pilot, end, delay)
    for _ in range(rounds):
        while busy_workers(app) or pending_timers(app):
            assert loop.time() < end, f"still busy after {timeout}s: {busy_workers(app)} {pending_timers(app)}"
            await asyncio.sleep(0.01)
        await _pause(pilot, end)
        if not busy_workers(app) and not pending_timers(app):
            break
    await pilot.wait_for_scheduled_animations()
    await _pause(pilot, end)


async def _pause(pilot, end: float, delay: float | None = None) -> None:
    """`pilot.pause`, whose wait for the screen's messages gives up after Textual's fixed
    30 s: on a machine loaded enough (CI under two CPU burners) a screen drawing a long
    Markdown preview took longer once. Waited for again until `end`, settle's own guard
    against a real hang."""
    from textual.pilot import WaitForScreenTimeout

    while True:
        try:
            await pilot.pause(delay)
            return
        except WaitForScreenTimeout:
            if asyncio.get_running_loop().time() >= end:
                raise
            delay = None  # the delay has passed: only the screen's messages are left


def screen_text(app) -> str:
    """Everything the current screen shows, as plain text (for assertions)."""
    from textual.widgets import DataTable, Input, OptionList, Static, TextArea

    out = []
    for w in app.screen.query("*"):
        if not w.display:
            continue
        if isinstance(w, Static):
            out.append(str(w.render()))
        elif isinstance(w, Input):
            out.append(w.value)
        elif isinstance(w, TextArea):
            out.append(w.text)
        elif isinstance(w, OptionList):
            out.extend(str(o.prompt) for o in w.options)
        elif isinstance(w, DataTable):
            for row in range(w.row_count):
                out.append(" | ".join(str(c) for c in w.get_row_at(row)))
    return "\n".join(out)


def wrapped_to_size(app) -> bool:
    """Every text area shown has wrapped its lines at the width it has now."""
    from textual.widgets import TextArea

    return all(
        w.wrapped_document._width == w.wrap_width for w in app.screen.query(TextArea) if w.soft_wrap and w.is_on_screen
    )


async def wait_for(pilot, predicate, timeout: float = 120.0) -> bool:
    """Wait until `predicate()` holds: it returns as soon as the app's own events make it
    true (a worker's result, a tick). `timeout` only guards a hang: a loaded machine can
    take many seconds for what takes one alone, and a test that passes never waits it out."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()


async def select(pilot, campaign_id: int) -> CampaignListScreen:
    """On the campaign list, the cursor on `campaign_id`'s row."""
    screen = pilot.app.screen
    assert isinstance(screen, CampaignListScreen)
    screen.query_one("DataTable").move_cursor(row=screen._order.index(campaign_id))
    await settle(pilot)
    return screen


async def open_campaign(pilot, campaign_id: int) -> RecipientsScreen:
    """From the campaign list, Enter on `campaign_id`: its recipient table."""
    await select(pilot, campaign_id)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RecipientsScreen)
    return pilot.app.screen


@asynccontextmanager
async def campaign_open(world: World, campaign_id: int, size: tuple[int, int] = (80, 24)) -> AsyncIterator[tuple]:
    """The app on `world` at `size`, settled, `campaign_id`'s recipient table open: the
    preamble of most flows (`async with campaign_open(world, cid) as (app, pilot):`)."""
    app = app_for(world)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await open_campaign(pilot, campaign_id)
        yield app, pilot


async def open_add(pilot, tab: str = "tab-one"):
    """Press a on the recipient table; the modal opens on its first tab, then `tab`."""
    await pilot.press("a")
    await settle(pilot)
    modal = pilot.app.screen
    # the first tab's focus message travels pane -> tabs: wait for its effect, not a clock
    assert await wait_for(pilot, lambda: getattr(pilot.app.focused, "id", None) == "patient-query")
    if tab != "tab-one":
        modal.query_one("#add-tabs").active = tab
        await settle(pilot)
    assert modal.active_tab() == tab
    return modal


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus a field and give it `text` (as pasting it would), then let the app react."""
    w = pilot.app.screen.query_one(selector)
    w.focus()
    w.value = text
    await settle(pilot)


def rendered(static, width: int = 76) -> str:
    """What a Static holding a Rich table shows, as text."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(static.content)
    return console.export_text()


# --- every screen, as the snapshots and the pseudo-locale scan reach it -----------------
# (tests/test_tui_snapshots.py, tests/test_tui_snapshots_fr.py, tests/test_i18n_pseudo.py)


# Where the snapshot worlds' patients are imported from: one path on every run, so that the
# audit trail, which names the imported file, can be pictured. Shared by concurrent runs
# (the same file, the same content), taken in turn (SNAPSHOT_IMPORTS / "lock").
SNAPSHOT_IMPORTS = Path("/tmp/clinicast-snapshot-imports")


@contextlib.contextmanager
def snapshot_imports() -> Iterator[Path]:
    import fcntl

    SNAPSHOT_IMPORTS.mkdir(exist_ok=True)
    with open(SNAPSHOT_IMPORTS / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield SNAPSHOT_IMPORTS
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def snapshot_world(folder: Path, *, language: str = "en") -> World:
    """A read-only world for a module of screens (the login patched to LOGIN by the caller):
    60 patients (imported from SNAPSHOT_IMPORTS), an exports folder with a CSV file to
    read; its staff member reads `language`."""
    with snapshot_imports() as imports:
        world = make_world(folder, n_patients=60, import_folder=imports)
    exports = world.folder / "exports"
    exports.mkdir()
    (exports / "rappel.csv").write_text(
        "No dossier;Nom\n100001;Martel\n100002;Martel\n999999;Inconnu\n100002;Martel\n;vide\n", encoding="utf-8"
    )
    (exports / "archives").mkdir()
    if language != "en":
        write_config(world.folder, users=users_toml(language=language))
    return world


def select_campaign(attr: str):
    """A step: the campaign list's cursor on the world's campaign `attr` ("broadcast_live")."""

    def step(app):
        from tui.screens.campaign_list import CampaignListScreen

        screen = app.screen
        assert isinstance(screen, CampaignListScreen)
        cid = getattr(app.world.campaigns, attr)
        screen.query_one("DataTable").move_cursor(row=screen._order.index(cid), animate=False)

    return step


def tab(name: str):
    """A step: the screen's TabbedContent on the tab `name`."""

    def step(app):
        from textual.widgets import TabbedContent

        app.screen.query_one(TabbedContent).active = name

    return step


def template_typo(app):
    """A step: a misspelt variable typed into the French body of the template editor."""
    body = app.screen.query_one("#fr-body")
    body.focus()
    body.move_cursor((2, 0))
    body.insert("Bonjour {{ patient.frist_name }}\n")


async def condition_rows(app):
    """A step: two condition rows, the first on the connected system."""
    row = app.screen.query("ConditionRow").first()
    row.query_one(".cond-field").value = "connected_system"
    await app.screen.action_add_row()


# name -> (steps: keys or callables of the app, what the test typed, debounce delay)
SCREENS: dict[str, tuple[tuple, tuple[str, ...], float]] = {
    "campaign list": ((), (), 0.0),
    "campaign list, filtered": (("slash", "i", "n", "v"), ("inv",), 0.0),
    "campaign list, archived shown": (("v",), (), 0.0),
    "archive confirmation": ((select_campaign("invitation_draft"), "A"), (), 0.0),
    "new campaign form": (("n",), (), 0.0),
    "new broadcast, with errors": (
        ("n", "down", "tab", *"Fermeture", "tab", *"2025-06-31", "tab", *"2025-05-01"),
        ("Fermeture",),
        0.0,
    ),
    "edit broadcast": ((select_campaign("broadcast_live"), "e"), (), 0.0),
    "template editor, invitation": ((select_campaign("invitation_draft"), "t"), (), 0.35),
    "template editor, broadcast": ((select_campaign("broadcast_live"), "t"), (), 0.35),
    "variable picker": ((select_campaign("invitation_draft"), "t", "tab", "f2"), (), 0.35),
    "template refused": ((select_campaign("invitation_draft"), "t", template_typo, "ctrl+s"), ("frist",), 0.35),
    "recipients, sent invitation": ((select_campaign("invitation_sent"), "enter"), (), 0.0),
    "recipients, live broadcast": ((select_campaign("broadcast_live"), "enter"), (), 0.0),
    "recipients, search": ((select_campaign("broadcast_live"), "enter", "slash", *"zz"), ("zz",), 0.3),
    "recipient detail": ((select_campaign("invitation_sent"), "enter", "down", "enter"), (), 0.0),
    "start confirmation": ((select_campaign("broadcast_live"), "enter", "s"), (), 0.0),
    "stop confirmation": ((select_campaign("broadcast_live"), "enter", "S"), (), 0.0),
    "re-invite": ((select_campaign("invitation_sent"), "enter", "i"), (), 0.0),
    "test send": ((select_campaign("invitation_draft"), "enter", "T"), (), 0.0),
    "remove confirmation": ((select_campaign("broadcast_live"), "enter", "down", "x"), (), 0.0),
    "opt-out": ((select_campaign("broadcast_live"), "enter", "down", "o"), (), 0.0),
    "add patients, one patient": ((select_campaign("invitation_draft"), "enter", "a", *"trem"), ("trem",), 0.4),
    "add patients, conditions": (
        (select_campaign("invitation_draft"), "enter", "a", tab("tab-conditions"), condition_rows),
        (),
        0.4,
    ),
    "add patients, CSV": (
        (select_campaign("invitation_draft"), "enter", "a", tab("tab-csv"), *"exports/rappel.csv", "enter"),
        ("exports/rappel.csv",),
        0.4,
    ),
    "add patients, paste ids": (
        (select_campaign("invitation_draft"), "enter", "a", tab("tab-csv"), *"100001 100002 42"),
        (),
        0.4,
    ),
    "audit trail": (("l",), (), 0.0),
    "keys": (("question_mark",), (), 0.0),
    "keys of the recipients": ((select_campaign("broadcast_live"), "enter", "question_mark"), (), 0.0),
    "command palette": (("ctrl+p",), (), 0.3),
    "command palette, language": (("ctrl+p", *"lang"), ("lang",), 0.3),
}


def _mid_word(steps: tuple, i: int) -> bool:
    """Step i is a character typed between two others (not the key that opened a screen:
    the step before is a character too)."""
    return 0 < i < len(steps) - 1 and all(isinstance(s, str) and len(s) == 1 for s in steps[i - 1 : i + 2])


def screen_id(name: str) -> str:
    """A screen's name as a test id and a file name ("campaign list, filtered" -> campaign_list_filtered)."""
    return re.sub(r"\W+", "_", name).strip("_")


def go(*steps, delay: float = 0.0, clear_notifications: bool = True):
    """A run_before that settles, runs `steps` (keys or callables of the app) settling
    between them, then waits until the screen stays the same for 0.3 s (no debounce timer
    left to fire); the notifications cleared unless told (a snapshot's picture is the screen)."""

    async def run_before(pilot):
        await settle(pilot)
        for i, step in enumerate(steps):
            if callable(step):
                result = step(pilot.app)
                if hasattr(result, "__await__"):
                    await result
            else:
                await pilot.press(step)
            if _mid_word(steps, i):  # typed as a person types: the debounce fires once, after the word
                await _pause(pilot, asyncio.get_running_loop().time() + 300)
                continue
            await settle(pilot)
        await settle(pilot, delay)
        for _round in range(20):
            before = screen_text(pilot.app)
            await settle(pilot, 0.3)
            if screen_text(pilot.app) == before:
                break
        # a text area wraps its lines when its size arrives (a resize event): under load the
        # screen's text was steady while the template's body was still drawn unwrapped
        assert await wait_for(pilot, lambda: wrapped_to_size(pilot.app))
        await settle(pilot)
        if clear_notifications:
            pilot.app.clear_notifications()
            await _pause(pilot, asyncio.get_running_loop().time() + 300)

    return run_before


def snap_app(world: World) -> ClinicastApp:
    """The app a snapshot takes, its CSV browser in the world's exports folder."""
    app = app_for(world)
    app.start_folder = "exports"
    app.world = world  # type: ignore[attr-defined]  # what select_campaign reads
    return app


def snap(snap_compare, world: World, size, *steps, delay: float = 0.0, app=None) -> None:
    """Assert the snapshot of the screen `steps` lead to."""
    app = app or snap_app(world)
    app.world = world
    assert snap_compare(app, terminal_size=size, run_before=go(*steps, delay=delay))
