"""Text compared without case or accents: `fold` is the one form a typed or read value is
compared in (a patient's cells, a condition's values, every search). A CSV header's column
names have their own, stricter key: core.csvio.norm."""

from __future__ import annotations

import unicodedata


def without_accents(text: str) -> str:
    """`text` with its accents taken off its letters (`Hélène` -> `Helene`); letters with
    no unaccented form (`ß`, `ø`) stay as they are."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lower case without accents, for values (`Français` -> `francais`)."""
    if text.isascii():
        return text.lower().strip()
    return without_accents(text).casefold().strip()


__all__ = ["fold", "without_accents"]
