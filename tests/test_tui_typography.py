"""A no-break space never breaks a line on screen (French: « 5 000 », « Canal : », « ; »)."""

from __future__ import annotations

import pytest
from textual.content import Content

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
