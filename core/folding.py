"""Text compared without case or accents: `fold` is the one form a typed or read value is
compared in (a patient's cells, a condition's values, every search). A CSV header's column
names have their own, stricter key: core.csvio.norm."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents, for values (`Français` -> `francais`)."""
    if text.isascii():
        return text.lower().strip()
    s = unicodedata.normalize("NFKD", text)
    return "".join(c for c in s if not unicodedata.combining(c)).casefold().strip()


__all__ = ["fold"]
