"""A list pasted in the TUI (SPEC §13, issue #19): over SSH the CSV tab reads no file of
the server, so a column copied from a spreadsheet can be pasted wherever a CSV can be
chosen. The terminal sends it as a bracketed paste; the app gets a Paste event, as the
driver posts it here."""

from __future__ import annotations

import pytest
from textual import events
from tui_helpers import (
    campaign_open,
    copied_world,
    module_world,
    open_add,
    screen_text,
    settle,
    wait_for,
)

from core import recipients
from core.models import Recipient
from tui.screens.recipients import RecipientsScreen

pytestmark = pytest.mark.anyio


base_world = module_world("base", n_patients=60)  # the flows' world (tests/test_tui_flows.py)
world = copied_world


def assigned(cid) -> set[str]:
    return {r.patient.emr_id for r in Recipient.select().where(Recipient.campaign == cid)}


async def paste(pilot, text: str) -> None:
    pilot.app.post_message(events.Paste(text))  # what the driver does with a bracketed paste
    await settle(pilot)


@pytest.mark.parametrize("focus", ["#csv-path", "#csv-tree"])
async def test_a_pasted_column_is_reported_then_assigned_on_confirm(world, focus):
    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-csv")
        modal.query_one(focus).focus()
        # a spreadsheet column: its header, Windows line ends, a duplicate and an unknown id
        await paste(pilot, "N° dossier\r\n100001\r\n100002\r\n424242\r\n100002\r\n100003\r\n")
        report = str(modal.query_one("#csv-report").render())
        assert "3 patients found (column N° dossier)" in report, report
        assert "line 4 “424242”" in report and "line 5 (as line 3)" in report
        assert modal.query_one("#csv-path").value == ""  # not pasted into the path
        assert assigned(cid) == set()  # nothing before the confirmation
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RecipientsScreen), str(modal.query_one("#add-message").render())
    assert assigned(cid) == {"100001", "100002", "100003"}


async def test_a_list_pasted_on_another_tab_opens_the_list_tab(world):
    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-conditions")
        modal.query_one("#add-row").focus()
        await paste(pilot, "100004\n100005\n")  # no header: every line an id
        assert modal.active_tab() == "tab-csv"
        report = str(modal.query_one("#csv-report").render())
        assert "2 patients found (every line an id)" in report and "column" not in report, report


async def test_a_list_pasted_into_the_first_field_is_read_whole(world):
    """`a`, then paste at once: the focus is in the one-patient search; Input's own paste
    kept the first line there and lost the rest (seen over a real ssh -tt)."""
    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-one")
        assert app.focused is modal.query_one("#patient-query")
        await paste(pilot, "100004\n100005\n100006\n")
        assert modal.active_tab() == "tab-csv"
        assert "3 patients found" in str(modal.query_one("#csv-report").render())
        assert modal.query_one("#patient-query").value == ""


async def test_one_line_pasted_in_the_path_is_a_path(world):
    async with campaign_open(world, world.campaigns.invitation_draft) as (app, pilot):
        modal = await open_add(pilot, "tab-csv")
        modal.query_one("#csv-path").focus()
        await paste(pilot, "/tmp/liste.csv")
        assert modal.query_one("#csv-path").value == "/tmp/liste.csv"
        assert modal.report is None


async def test_a_list_over_the_limit_is_refused_in_the_dialog(world):
    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-csv")
        n = recipients.PASTE_LIMIT + 1
        await paste(pilot, "".join(f"{100000 + i}\n" for i in range(n)))
        limit = f"{recipients.PASTE_LIMIT:,}"
        assert await wait_for(pilot, lambda: f"holds at most {limit}" in screen_text(app)), screen_text(app)
        assert modal.report is None and app.screen is modal
    assert assigned(cid) == set()


async def test_a_column_of_as_many_ids_as_one_assign_adds_is_read_with_its_header(world):
    """5,000 ids copied from a spreadsheet come with their column's name: 5,001 lines.
    The header was counted as an id and the list refused (« 5 001 lines; a pasted list
    holds at most 5,000 »), though one assign adds 5,000."""
    cid = world.campaigns.invitation_draft
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-csv")
        n = recipients.PASTE_LIMIT
        await paste(pilot, "N° dossier\r\n" + "".join(f"{100000 + i}\r\n" for i in range(n)) + "\r\n")
        assert await wait_for(pilot, lambda: modal.report is not None), screen_text(app)
        assert "holds at most" not in screen_text(app)
        report = modal.report
        assert report.column == "N° dossier" and len(report.ids) == n and report.found, report.column
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RecipientsScreen), str(modal.query_one("#add-message").render())
    assert assigned(cid) == set(report.found)


async def test_over_ssh_the_csv_tab_reads_no_server_file_and_says_how_a_list_comes(world, monkeypatch, tmp_path):
    """Over SSH the tab browsed the server's folders and read any path the staff member's
    login could (another's export, /etc/passwd: its lines shown as unknown ids), though
    their own file is on their computer. No folder tree there and no path read: a path
    typed is answered with the two ways a list comes — pasted here, or sent through the
    connection with the command that, run on their computer, adds it to this campaign —
    once, in the place of the standing words that said it too."""
    cid = world.campaigns.invitation_draft
    theirs = tmp_path / "export of another.csv"
    theirs.write_text("emr_id\n100001\nS3CRET-4711\n")
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 50000 192.0.2.1 22")
    said = lambda: str(modal.query_one("#csv-report").render())  # noqa: E731
    async with campaign_open(world, cid) as (app, pilot):
        modal = await open_add(pilot, "tab-csv")
        assert not modal.query("#csv-tree") and "paste a column of EMR ids" in screen_text(app), screen_text(app)
        assert f"ssh clinic recipients add {cid} --csv - < list.csv" in screen_text(app), screen_text(app)
        modal.query_one("#csv-path").focus()
        modal.query_one("#csv-path").value = str(theirs)  # typed (or pasted: one line is a path)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: "reads no file by its path" in said()), said()
        assert f"ssh clinic recipients add {cid} --csv - < '{theirs}'" in said(), said()
        await settle(pilot)
        assert modal.report is None and "S3CRET" not in screen_text(app), screen_text(app)
        # said once: the answer took the standing words' place (which said it again below it,
        # the command twice at 80×24) until the path changes; a path's escape shown escaped
        command = f"ssh clinic recipients add {cid} --csv - <"
        assert screen_text(app).count(command) == 1, screen_text(app)
        modal.query_one("#csv-path").value = "liste\x1b[2J.csv"
        await pilot.press("enter")
        await settle(pilot)
        assert "liste\\x1b[2J.csv" in said() and "\x1b" not in said() and screen_text(app).count(command) == 1, said()
        await pilot.press("backspace")
        await settle(pilot)
        text = screen_text(app)
        assert "reads no file by its path" not in text and "paste a column of EMR ids" in text, text
        assert text.count(command) == 1, text
        await paste(pilot, "100001\n100002\n")  # the way in that stays
        assert "2 patients found" in said(), said()
