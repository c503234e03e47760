"""No edit is lost with the connection (SPEC §13, core/drafts.py): the template editor's
unsaved text is kept as the login's draft when the session ends — the real `clinicast`
in a real pseudo-terminal, hung up by a real SIGHUP — in a folder only that login reads;
the next time that login opens the campaign's template, the editor offers it back. It is
written as the staff member types too: a `kill -9` leaves it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config
from test_tui_hangup import ROOT, tui_in_a_pty, wait_for
from textual.widgets import Input
from tui_helpers import app_for, copied_world, module_world, screen_text, settle

from core import campaigns as campaigns_mod
from core import config as cfg
from core import context, drafts
from core import db as dbmod
from core.models import Campaign, Template
from tui.app import make_app
from tui.hangup import HANGUP_EXIT
from tui.screens.campaign_detail import CampaignDetailScreen
from tui.screens.drafts import DRAFT_DELAY
from tui.screens.template_editor import TemplateEditorScreen

pytestmark = pytest.mark.anyio

TYPED = "Brouillon perdu "  # typed at the start of the French subject


def draft_files(state: Path) -> list[Path]:
    where = state / "clinicast" / "drafts"
    return sorted(where.glob("*.json")) if where.exists() else []


async def open_editor(pilot, campaign_id: int) -> TemplateEditorScreen:
    """The app opened, then the campaign's template editor, its text loaded."""
    await settle(pilot)
    pilot.app.push_screen(TemplateEditorScreen(campaign_id))
    await settle(pilot, 0.35)
    assert isinstance(pilot.app.screen, TemplateEditorScreen)
    return pilot.app.screen


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def a_campaign(tmp_path: Path, sqlite_url: str) -> tuple[Path, int, str]:
    """A database made by the real commands, with one invitation "Rappel": the config,
    the campaign's id and its saved French subject."""
    config = write_config(tmp_path, sqlite_url)
    for argv in (["init"], ["campaigns", "create", "--kind", "invitation", "--name", "Rappel"]):
        done = subprocess.run(
            [sys.executable, "-m", "cli", *argv, "--config", str(config)], cwd=ROOT, capture_output=True
        )
        assert done.returncode == 0, done.stderr
    loaded = cfg.load(config, env={})
    dbmod.bind(loaded.database.url)
    ctx = context.for_current_user(loaded)
    cid = Campaign.get(Campaign.name == "Rappel").id
    saved_subject = campaigns_mod.get_templates(ctx, cid)["fr"]["subject"]
    assert saved_subject and TYPED not in saved_subject
    return config, cid, saved_subject


def open_the_template(terminal, drawn: bytearray) -> None:
    """In the TUI of `tui_in_a_pty`: the campaign list drawn, `t` opens the template of
    the campaign under the cursor, its French subject focused."""
    assert wait_for(lambda: b"Rappel" in drawn, 60), bytes(drawn[-2000:])
    time.sleep(0.5)
    terminal.type_keys(b"t")
    assert wait_for(lambda: b"Preview" in drawn, 60), bytes(drawn[-2000:])
    time.sleep(1.0)  # the fields mounted, the subject focused


def saved_fr_subject(cid: int) -> str:
    return Template.get(Template.campaign == cid, Template.language == "fr").subject


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGHUP", "terminal closed"])
async def test_a_hangup_keeps_the_unsaved_template_and_the_next_session_restores_it(
    how, tmp_path, sqlite_url, monkeypatch
):
    config, cid, saved_subject = a_campaign(tmp_path, sqlite_url)

    # the real TUI, its HOME the test's folder (as sshd gives a login its own)
    proc, hang_up, drawn = tui_in_a_pty(config)
    try:
        open_the_template(hang_up, drawn)
        hang_up.type_keys(TYPED.encode())
        assert wait_for(lambda: TYPED.strip().encode() in drawn, 30), bytes(drawn[-2000:])
        if how == "SIGHUP":
            os.killpg(proc.pid, signal.SIGHUP)  # the connection drops
        else:
            hang_up()  # sshd closes the terminal: the kernel hangs it up
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if how == "SIGHUP":
            hang_up()
    assert code == HANGUP_EXIT, code

    # the draft: one file, 0600, in a 0700 folder of the login's own state folder
    state = tmp_path / ".local" / "state"
    [draft_file] = draft_files(state)
    assert mode(draft_file) == 0o600
    assert mode(draft_file.parent) == 0o700
    kept = json.loads(draft_file.read_text(encoding="utf-8"))
    assert kept["values"]["fr"]["subject"] == TYPED + saved_subject
    assert Template.get(Template.campaign == cid, Template.language == "fr").subject == saved_subject

    # the next session of that login opens the template: the draft is offered
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    app = make_app(config, scheduler=False, blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, cid)
        offer = str(editor.query_one("#draft-offer").render())
        assert offer.startswith("Restore the unsaved changes from ")
        assert "changed since" not in offer
        assert "Restore" in {b.binding.description for b in editor.active_bindings.values()}
        assert editor.query_one("#fr-subject").value == saved_subject
        await pilot.press("f7")  # restore
        await settle(pilot)
        assert editor.query_one("#fr-subject").value == TYPED + saved_subject
        assert editor.query_one("#draft-offer").has_class("hidden")
        assert editor.unsaved() is not None  # back as unsaved edits, not saved
        assert Template.get(Template.campaign == cid, Template.language == "fr").subject == saved_subject
        assert draft_files(state) == [draft_file]  # kept until saved
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert Template.get(Template.campaign == cid, Template.language == "fr").subject == TYPED + saved_subject
        assert draft_files(state) == []  # saved: nothing left to offer


F7, CTRL_O = b"\x1b[18~", b"\x0f"  # as a terminal sends them


@pytest.mark.slow
def test_a_killed_session_keeps_what_was_typed_and_the_next_one_restores_it(tmp_path, sqlite_url):
    """kill -9 (a crash, the OOM killer, the server rebooting): nothing of clinicast runs
    at the end, so the draft is the one written while the staff member typed, a moment
    after the last key."""
    config, cid, saved_subject = a_campaign(tmp_path, sqlite_url)
    state = tmp_path / ".local" / "state"
    proc, terminal, drawn = tui_in_a_pty(config)
    try:
        open_the_template(terminal, drawn)
        terminal.type_keys(TYPED.encode())
        typed_at = time.time()  # the app reads the keys after this
        assert wait_for(lambda: TYPED.strip().encode() in drawn, 30), bytes(drawn[-2000:])
        assert wait_for(lambda: any(TYPED in f.read_text(encoding="utf-8") for f in draft_files(state)), 30)
        [draft_file] = draft_files(state)
        # written once the typing paused, not as each key came
        assert draft_file.stat().st_mtime >= typed_at + DRAFT_DELAY - 0.1
        assert mode(draft_file) == 0o600 and mode(draft_file.parent) == 0o700
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        terminal()
    assert saved_fr_subject(cid) == saved_subject
    assert json.loads(draft_file.read_text(encoding="utf-8"))["values"]["fr"]["subject"] == TYPED + saved_subject

    # clinicast again, same database and login: offered, f7 restores it, ctrl+o saves it
    proc, terminal, drawn = tui_in_a_pty(config)
    try:
        open_the_template(terminal, drawn)
        assert wait_for(lambda: b"Restore the unsaved changes from" in drawn, 30), bytes(drawn[-2000:])
        assert TYPED.strip().encode() not in drawn  # offered, not yet in the subject
        terminal.type_keys(F7)
        assert wait_for(lambda: TYPED.strip().encode() in drawn, 30), bytes(drawn[-2000:])
        terminal.type_keys(CTRL_O)
        assert wait_for(lambda: saved_fr_subject(cid) == TYPED + saved_subject, 30), bytes(drawn[-2000:])
        assert wait_for(lambda: draft_files(state) == [], 30)
    finally:
        proc.kill()
        proc.wait()
        terminal()


base_world = module_world("drafts")
world = copied_world


async def test_a_draft_is_offered_with_a_newer_save_and_discarding_deletes_it(world):
    cid = world.campaigns.invitation_draft
    saved = campaigns_mod.get_templates(world.ctx, cid)
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        (await open_editor(pilot, cid)).query_one("#en-subject").value = "Unsaved English subject"
        await settle(pilot)
        app.exit(return_code=HANGUP_EXIT)  # the way a hang-up ends the session
        await settle(pilot)
    state = Path(os.environ["XDG_STATE_HOME"])
    [draft_file] = draft_files(state)
    assert "Unsaved English subject" in draft_file.read_text(encoding="utf-8")

    # meanwhile someone saves the template
    newer = {lang: dict(fields) for lang, fields in saved.items()}
    newer["en"]["subject"] = "Saved by a colleague"
    campaigns_mod.save_templates(world.ctx, cid, newer)

    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, cid)
        offer = str(editor.query_one("#draft-offer").render())
        assert offer.startswith("Restore the unsaved changes from Jun 2 at 12:00?"), offer
        assert "The saved template has changed since." in offer
        assert "Restore the unsaved changes" in screen_text(app)
        await pilot.press("f8")  # discard
        await settle(pilot)
        assert draft_files(state) == []
        assert editor.query_one("#draft-offer").has_class("hidden")
        assert editor.query_one("#en-subject").value == "Saved by a colleague"
        assert editor.unsaved() is None

    # and the next time: nothing offered
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await open_editor(pilot, cid)).query_one("#draft-offer").has_class("hidden")
        assert drafts.read(world.ctx, drafts.TEMPLATE, cid) is None


async def test_quitting_without_saving_by_choice_keeps_no_draft(world):
    cid = world.campaigns.invitation_draft
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        (await open_editor(pilot, cid)).query_one("#en-subject").value = "Not wanted"
        await settle(pilot)
        await pilot.press("f10")
        await settle(pilot)
        await pilot.press("enter")  # "Quit clinicast without saving the template?" Quit
        await settle(pilot)
        assert app.return_code == 0  # it quit
    assert draft_files(Path(os.environ["XDG_STATE_HOME"])) == []


async def open_form(pilot, campaign_id: int | None) -> CampaignDetailScreen:
    """The app opened, then the new campaign form (None) or a campaign's."""
    await settle(pilot)
    pilot.app.push_screen(CampaignDetailScreen(campaign_id))
    await settle(pilot)
    assert isinstance(pilot.app.screen, CampaignDetailScreen)
    return pilot.app.screen


async def test_the_new_campaign_form_keeps_its_draft_and_restores_it(world):
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, None)
        await pilot.press("down")  # the kind: a broadcast
        await settle(pilot)
        form.query_one("#name", Input).value = "Vaccination d'automne"
        form.query_one("#starts_on", Input).value = "2025-10-01"
        await settle(pilot)
        app.exit(return_code=HANGUP_EXIT)  # the way a hang-up ends the session
        await settle(pilot)
    state = Path(os.environ["XDG_STATE_HOME"])
    [draft_file] = draft_files(state)
    assert mode(draft_file) == 0o600 and mode(draft_file.parent) == 0o700
    assert "Vaccination d'automne" in draft_file.read_text(encoding="utf-8")

    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, None)
        offer = str(form.query_one("#draft-offer").render())
        assert offer == "Restore the unsaved changes from Jun 2 at 12:00?", offer
        assert form.query_one("#name", Input).value == ""
        await pilot.press("f7")
        await settle(pilot)
        assert form.kind == "broadcast"
        assert form.query_one("#name", Input).value == "Vaccination d'automne"
        assert form.query_one("#starts_on", Input).value == "2025-10-01"
        assert form.unsaved() is not None
        assert not Campaign.select().where(Campaign.name == "Vaccination d'automne").exists()
        form.query_one("#ends_on", Input).value = "2025-10-31"
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert Campaign.get(Campaign.name == "Vaccination d'automne").kind == "broadcast"
    assert draft_files(state) == []


async def test_the_edit_form_says_when_the_campaign_was_saved_since_and_discards(world):
    cid = world.campaigns.invitation_draft
    name = Campaign.get_by_id(cid).name
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, cid)
        form.query_one("#name", Input).value = "A name not saved"
        await settle(pilot)
        app.exit(return_code=HANGUP_EXIT)
        await settle(pilot)
    campaigns_mod.edit(world.ctx, cid, name="Renamed by a colleague")

    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, cid)
        offer = str(form.query_one("#draft-offer").render())
        assert offer.endswith("The campaign's saved details have changed since."), offer
        await pilot.press("f8")
        await settle(pilot)
        assert form.query_one("#name", Input).value == "Renamed by a colleague" != name
        assert form.unsaved() is None
        assert form.query_one("#draft-offer").has_class("hidden")
    assert draft_files(Path(os.environ["XDG_STATE_HOME"])) == []


async def wait_until(pilot, what, timeout: float = 30.0) -> None:
    """Until `what()` is true, the app running meanwhile (a draft is written on a clock)."""
    end = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < end, f"not true after {timeout}s"
        await pilot.pause(0.1)


@pytest.mark.parametrize("which", ["template", "new campaign"])
async def test_saving_leaves_no_draft_though_one_was_written_while_typing(world, which):
    state = Path(os.environ["XDG_STATE_HOME"])
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        if which == "template":
            screen = await open_editor(pilot, world.campaigns.invitation_draft)
            field = screen.query_one("#en-subject", Input)
        else:
            screen = await open_form(pilot, None)
            field = screen.query_one("#name", Input)
        field.value = "Typed, then saved"
        await settle(pilot)
        await wait_until(pilot, lambda: draft_files(state) != [])  # written as typed
        assert "Typed, then saved" in draft_files(state)[0].read_text(encoding="utf-8")
        field.value += " at once"  # its own write still to come
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert draft_files(state) == []
        await pilot.pause(DRAFT_DELAY + 1.0)  # when that write was due
        assert draft_files(state) == []
        if which == "template":
            assert campaigns_mod.get_templates(world.ctx, world.campaigns.invitation_draft)["en"]["subject"] == (
                "Typed, then saved at once"
            )
        else:
            assert Campaign.select().where(Campaign.name == "Typed, then saved at once").exists()


async def test_a_draft_older_than_the_age_kept_is_deleted_when_the_drafts_are_read(world):
    cid = world.campaigns.invitation_draft
    saved = campaigns_mod.get_templates(world.ctx, cid)
    typed = {lang: dict(fields) for lang, fields in saved.items()}
    typed["en"]["subject"] = "Typed long ago"
    old = drafts.write(world.ctx, drafts.TEMPLATE, cid, typed, saved)
    fields = {"campaign": {"kind": "invitation", "name": "", "starts_on": "", "ends_on": ""}}
    recent = drafts.write(
        world.ctx, drafts.CAMPAIGN, None, {"campaign": {**fields["campaign"], "name": "Récent"}}, fields
    )
    day = 24 * 3600
    now = time.time()
    os.utime(old, (now - drafts.KEPT_DAYS * day - 60,) * 2)
    os.utime(recent, (now - (drafts.KEPT_DAYS - 1) * day,) * 2)
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, cid)
        assert editor.query_one("#draft-offer").has_class("hidden")  # too old: not offered
        assert draft_files(Path(os.environ["XDG_STATE_HOME"])) == [recent]  # and deleted; the other kept
        assert drafts.read(world.ctx, drafts.CAMPAIGN, None) is not None


async def test_a_draft_that_cannot_be_written_is_said_once_and_the_form_still_saves(world):
    (Path(os.environ["XDG_STATE_HOME"]) / "clinicast").write_text("not a folder", encoding="utf-8")
    cid = world.campaigns.invitation_draft
    app = app_for(world)
    async with app.run_test(size=(80, 24)) as pilot:
        field = (await open_editor(pilot, cid)).query_one("#en-subject", Input)
        field.value = "Typed where no draft can be kept"

        def said() -> list[str]:
            return [str(n.message) for n in app._notifications]

        await wait_until(pilot, lambda: any("draft" in m for m in said()))
        field.value += " again"
        await pilot.pause(DRAFT_DELAY + 1.5)  # its write failed too
        [notice] = said()
        # not "unexpected error (PermissionError)" every few seconds: once, what it means
        assert (
            notice == "The unsaved changes cannot be kept as a draft (permission denied): save them before you leave."
        )
        await pilot.press("ctrl+o")
        await settle(pilot)
    assert campaigns_mod.get_templates(world.ctx, cid)["en"]["subject"] == "Typed where no draft can be kept again"
