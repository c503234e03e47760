"""Control characters in values that reach a header, a file name or a terminal (issue #8).

One definition, used at CSV import (`core.patients`: refused with FILE:LINE: column)
and when an email's headers are built (`core.channels.compose`): a carriage return or
line feed in a first name once folded into new `Bcc:` and `X-Injected:` headers.

*Control* here is Unicode category Cc (C0/C1 controls: CR, LF, NUL, tab, ESC...), Cf
(format characters: zero-width spaces and joiners, bidi overrides, a stray BOM), Zl and
Zp (the Unicode line and paragraph separators, which some readers break lines on).
* The tab is refused too: in a name, an email or an id it is always an export accident.
"""

from __future__ import annotations

import unicodedata

from core.i18n import N_, _

CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})  # what could end a header line

_NAMES = {"\r": N_("carriage return"), "\n": N_("line feed"), "\t": N_("tab"), "\x00": "NUL", "\x1b": N_("escape")}


def first_control(text: str, categories: frozenset[str] = CATEGORIES) -> str | None:
    """The first control character of `text`, or None. Fast for the usual clean text
    (`str.isprintable` is false for every control character)."""
    if text.isprintable():
        return None
    for c in text:
        if unicodedata.category(c) in categories:
            return c
    return None


def describe(c: str) -> str:
    """`U+000D (carriage return)`, `U+200B (ZERO WIDTH SPACE)`."""
    name = _(_NAMES[c]) if c in _NAMES else unicodedata.name(c, "") or _("control character")
    return f"U+{ord(c):04X} ({name})"


def visible(v: str, limit: int = 60) -> str:
    """A value shown in one line of a message: control characters as escapes (`\\r`,
    `\\n`, `\\t`, `\\u200b`), cut to `limit` characters."""
    out = []
    for c in v[:limit]:
        if first_control(c) is None:
            out.append(c)
        else:
            out.append(repr(c)[1:-1] if ord(c) < 0x100 else f"\\u{ord(c):04x}")
    return "".join(out) + ("…" if len(v) > limit else "")
