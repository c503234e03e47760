"""The stored codes a person reads in the command line's text output, in their language
(SPEC §12): the table is core.words', shared with the TUI. And the width of a listing's
columns that hold them (`widths`)."""

from __future__ import annotations

from collections.abc import Sequence

from core.words import word

__all__ = ["widths", "word"]


def widths(rows: Sequence[Sequence[str]], least: Sequence[int]) -> list[int]:
    """Each column of a listing as wide as its longest cell in `rows` (the cells as a person
    reads them, in the language in use), and never narrower than `least`: the fixed width it
    had, sized for English. A French word longer than the English one (« envoyée avec
    erreurs », « dans le fil, sans notification ») then no longer pushes the rest of its line
    out of line with the others, and an English listing stays as it was."""
    return [max([at_least, *(len(row[i]) for row in rows)]) for i, at_least in enumerate(least)]
