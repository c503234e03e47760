"""Control characters in values that reach a header, a file name or a terminal (issue #8).

One definition, used at CSV import (`core.patients`: refused with FILE:LINE: column)
and when an email's headers are built (`core.channels.compose`): a carriage return or
line feed in a first name once folded into new `Bcc:` and `X-Injected:` headers.

*Control* here is Unicode category Cc (C0/C1 controls: CR, LF, NUL, tab, ESC...), Cf
(format characters: zero-width spaces and joiners, bidi overrides, a stray BOM), Zl and
Zp (the Unicode line and paragraph separators, which some readers break lines on).
* The tab is refused too: in a name, an email or an id it is always an export accident.

`quoted_value()` is how a message quotes a value a person typed (a config value, a
campaign's name, a command's word): in the reader's quotes, escaped, on one line.
"""

from __future__ import annotations

import math
import unicodedata

from core.i18n import N_, _, quoted

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


# a campaign's name (core.campaigns.actions.NAME_MAX) is shown whole; a pasted page is not
VALUE_LIMIT = 120


def quoted_value(value: object, limit: int = VALUE_LIMIT) -> str:
    """A value a person typed, as clinicast's messages show it: text in the quotes of the
    language in use (“x” in English, « x » in French), its control characters escaped and
    cut to `limit` (`visible`), so that a line break or a terminal escape in a config
    value or a name never reaches a terminal or a log raw, as repr() once ensured.
    A value of another type (a TOML file's number, boolean, list, table or date) is
    written as the file writes it, unquoted: `99999`, `true`, `["mon", 1]` (in quotes, a
    number would read as text: `port = "587"` is the string the message names)."""
    if isinstance(value, str):
        return quoted(visible(value, limit))
    return visible(_as_toml(value), limit)


def _as_toml(value: object) -> str:
    import datetime

    if isinstance(value, bool):  # before int: True is an int to Python
        return "true" if value else "false"
    if isinstance(value, str):  # in a list or a table: a TOML basic string (`visible` escapes the rest)
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_as_toml, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(str(k))} = {_as_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime.date | datetime.time):  # a datetime is a date
        return value.isoformat()
    return str(value)


def _toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else _as_toml(key)
