"""The stored codes a person reads in the command line's text output, in their language
(SPEC §12): the table is core.words', shared with the TUI."""

from __future__ import annotations

from core.words import word

__all__ = ["word"]
