"""A TOML file's text and its syntax errors in the reader's words: the config file
(core.config.load) and the staff's template files (core.templating.files) accept a
UTF-8 BOM, and say a byte that is not UTF-8, or tomllib's problem, by line and column in
the staff member's language, never Python's English."""

from __future__ import annotations

import codecs
import re
import tomllib

from core.i18n import N_, _, known_words

# tomllib's words (Python's own English) as the staff member's: (pattern, msgid), compiled
# only when a file has a syntax error to say
_TOML_WORDS = [
    (r"Cannot overwrite a value", N_("a value is given twice")),
    (r"Cannot declare (?P<what>.*) twice", N_("{what} is declared twice")),
    (r"Cannot (?:mutate immutable|redefine) namespace (?P<what>.*)", N_("{what} is already defined")),
    (r"Duplicate inline table key (?P<what>.*)", N_("key {what} is given twice")),
    (r"Unterminated string", N_("a string is not closed (a missing quote)")),
    (r"Unclosed inline table", N_("an inline table is not closed (a missing '}}')")),
    (r"Unclosed array", N_("a list is not closed (a missing ']')")),
    (r"Invalid value", N_("a value is not valid TOML (a string needs quotes)")),
    (r"Invalid statement", N_("this line is not a key = value nor a [table]")),
    (r"Invalid initial character for a key part", N_("a key starts with a character keys cannot have")),
    (r"Invalid hex value|Escaped character is not a Unicode", N_("a \\u escape is not valid")),
    (r"Unescaped '\\' in a string", N_("a \\ in a string is not escaped (write \\\\)")),
    (r"Invalid date or datetime", N_("a date or time is not valid")),
    (r"Expected '=' after a key", N_("expected '=' after a key")),
    (r"Expected '\]\]' at the end", N_("expected ']]' at the end of [[table]]")),
    (r"Expected '\]' at the end", N_("expected ']' at the end of [table]")),
    (r"(?:Illegal|Found invalid) character (?P<what>.*)", N_("character {what} is not allowed here")),
    (r"Expected newline or end of document", N_("expected the end of the line after a value")),
    (r"Expected (?P<what>.*)", N_("expected {what}")),
]
_AT = re.compile(r"\s*\(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")


BOM = codecs.BOM_UTF8  # what Windows Notepad writes before UTF-8 text: invisible, accepted (as csvencoding)


class NotUtf8(ValueError):
    """A TOML file that is not UTF-8 text: `str()` says where, by line and column."""


def text_of(raw: bytes) -> str:
    """A TOML file's text: UTF-8, with or without a BOM at the start. Raises NotUtf8
    naming the line and column of the first byte that is not UTF-8 (a byte offset
    means nothing to a person with an editor)."""
    raw = raw.removeprefix(BOM)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        start = raw.rfind(b"\n", 0, e.start) + 1
        line = raw.count(b"\n", 0, e.start) + 1
        column = len(raw[start : e.start].decode("utf-8")) + 1  # what comes before it is UTF-8
        raise NotUtf8(
            _(
                "not UTF-8 text at line {line}, column {column} (byte {byte}: Windows-1252?); save the file as UTF-8"
            ).format(line=line, column=column, byte=f"0x{raw[e.start]:02X}")
        ) from None


def problem(e: tomllib.TOMLDecodeError) -> str:
    """A TOML syntax error in words, with its line and column."""
    text = str(e)
    at = _AT.search(text)
    text = text[: at.start()] if at else text
    said = known_words(text, _TOML_WORDS) or text
    if at and at.group("line"):
        return _("TOML syntax error at line {line}, column {column}: {problem}").format(
            line=at.group("line"), column=at.group("column"), problem=said
        )
    return _("TOML syntax error at the end of the file: {problem}").format(problem=said)


__all__ = ["BOM", "NotUtf8", "problem", "text_of"]
