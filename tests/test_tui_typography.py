"""A no-break space never breaks a line on screen (French: « 5 000 », « Canal : », « ; »)."""

from __future__ import annotations

import pytest
from textual.content import Content
from tui_helpers import module_world

import tui.app  # noqa: F401 - installs the rule (tui.typography), as the TUI does


def lines(text: str, width: int) -> list[str]:
    return [line.plain.rstrip() for line in Content(text).wrap(width)]


def test_a_number_s_thousands_stay_on_one_line():
    got = lines("7 229 patients correspondent : plus de 5\u202f000, le maximum", 40)
    assert all(not line.endswith(("5", "7")) for line in got), got
    assert any("5\u202f000" in line for line in got), got


def test_a_french_colon_or_semicolon_never_begins_a_line():
    text = "Une nouvelle invitation part du message par défaut en français et en anglais\u202f; modifiez-le"
    for width in range(20, 80):
        assert not any(line.lstrip().startswith((";", ":", "»")) for line in lines(text, width)), width


def test_ordinary_spaces_still_break():
    assert lines("un deux trois quatre", 10) == ["un deux", "trois", "quatre"]


@pytest.mark.anyio
async def test_the_markdown_preview_never_breaks_at_a_no_break_space():
    """The template preview (a Markdown widget) drew « (vouliez-vous dire « » /
    « patient.first_name » ?) »: Textual's Markdown turned every `\\s`, no-break spaces too,
    into a plain space before wrapping. The error as the template editor writes it."""
    import re

    from textual.app import App
    from textual.widgets import Markdown
    from textual.widgets._markdown import MarkdownParagraph

    said = (
        "corps ligne 3\u00a0: variable inconnue «\u00a0patient.frist_name\u00a0» "
        "(vouliez-vous dire «\u00a0patient.first_name\u00a0»\u202f?)"
    )
    escaped = re.sub(r"([\\`*_{}\[\]()#+.!|<>~-])", r"\\\1", said)  # as the editor hands it over

    class Preview(App):
        CSS = "Markdown { width: 38; margin: 0; padding: 0; }"

        def compose(self):
            yield Markdown(f"*{escaped}*\n\nClinique du Parc\u00a0: votre **rendez-vous**\u202f; à bientôt\u202f!")

    app = Preview()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        for width in (24, 30, 38):
            app.query_one(Markdown).styles.width = width
            await pilot.pause()
            got = [
                "".join(seg.text for seg in strip).rstrip()
                for p in app.query(MarkdownParagraph)
                for strip in p.render_lines(p.region.reset_offset)
            ]
            assert any("«\u00a0patient.frist_name\u00a0»" in line for line in got), got  # kept, whole
            assert not any(line.endswith("«") for line in got), (width, got)
            assert not any(line.lstrip().startswith(("»", "?", ":", ";", "!")) for line in got), (width, got)


detail_world = module_world("typography", n_patients=30)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.anyio
async def test_the_recipient_detail_never_breaks_inside_a_date(detail_world, tmp_path, as_mlaval, language):
    """A recipient's detail at 80×24: its delivery lines wrap between their items, never
    inside a date (« prévu 3 juin » / « 2025 17:17 ») nor between a date and its time. A
    recipient sent to, with a second email due tomorrow: every moment the panel shows is
    whole on one drawn line, and no line begins with the dot between two items."""
    from datetime import timedelta

    from pseudo import screen_lines
    from tui_helpers import campaign_open, copy_world, settle, users_toml, write_config

    from core import formats, i18n
    from core.models import Delivery, Recipient
    from tui.screens.recipient_detail import RecipientDetailModal

    world = copy_world(detail_world, tmp_path / "w")
    write_config(world.folder, users=users_toml(language=language))
    cid = world.campaigns.invitation_sent
    r = Recipient.select().where(Recipient.campaign == cid, Recipient.sent_at.is_null(False)).order_by(Recipient.id)[0]
    at = world.clock.at
    Delivery.create(
        kind="email", campaign=cid, recipient=r, status="pending", attempts=2, created_at=at - timedelta(days=3),
        due_at=at + timedelta(days=1, hours=5, minutes=17), last_error="451 4.7.1 try again later",
    )  # fmt: skip
    try:
        async with campaign_open(world, cid) as (app, pilot):
            app.screen.table.move_cursor(row=app.screen.table.order.index(r.id), animate=False)
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, RecipientDetailModal)
            detail = app.screen.detail
            tz = world.ctx.config.clinic.tz
            moments = [detail.added_at, detail.queued_at, detail.sent_at]
            for line in detail.deliveries:
                moments += [line.created_at, line.sent_at, line.due_at]
            said = {formats.when(m, tz) for m in moments if m is not None}
            drawn = screen_lines(app)
            assert len(said) >= 3 and "·" in drawn, drawn
            lines = [line.strip("█▀▄ ") for line in drawn.split("\n")]
            for when in said:
                assert any(when in line for line in lines), f"{when!r} broken:\n{drawn}"
            assert not any(line.startswith("·") for line in lines), drawn  # the dot ends a line
    finally:
        i18n.use("en")
