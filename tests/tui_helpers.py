"""Builders for the TUI tests: a small demo world on SQLite with a frozen clock, the
app made by the same factory as the command line, and a way to wait until it is idle."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core import config as cfg
from core import context, demo
from core import db as dbmod
from core.context import Ctx
from tui.app import ClinicastApp, make_app

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
) -> World:
    """A demo world in `folder` (the login must be LOGIN: use the `as_mlaval` fixture)."""
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
            camps = demo.populate(ctx, n_patients, folder=folder)
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


def app_for(world: World, **kw) -> ClinicastApp:
    kw.setdefault("scheduler", False)
    kw.setdefault("blink", False)
    app = make_app(world.config_path, clock=world.clock, **kw)
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


async def settle(pilot, delay: float = 0.0, rounds: int = 6, timeout: float = 60.0) -> None:
    """Wait until no worker runs and the screen has been refreshed (debounce timers:
    pass `delay` a bit longer than theirs)."""
    app = pilot.app
    if delay:
        await pilot.pause(delay)
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    for _ in range(rounds):
        while busy_workers(app):
            assert loop.time() < end, f"workers still running after {timeout}s: {busy_workers(app)}"
            await asyncio.sleep(0.01)
        await pilot.pause()
        if not busy_workers(app):
            break
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


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


async def wait_for(pilot, predicate, timeout: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await pilot.pause(0.05)
    return predicate()
