"""A no-break space never breaks a line on screen (French: « 5 000 », « Canal : », « ; »)."""

from __future__ import annotations

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
