"""A template's mistake in the staff member's words: Jinja's messages (syntax) and
Python's (a calculation that cannot be done) are English whatever the staff reads
(SPEC §12). The usual ones are said here; an unknown one keeps Jinja's words."""

from __future__ import annotations

import re

from jinja2 import UndefinedError
from jinja2.sandbox import SecurityError

from core.i18n import N_, _, known_words

# Jinja's names for the tokens a message may expect, as the staff write them
_TOKENS = {
    "end of print statement": "}}",
    "end of statement block": "%}",
    "end of template": "…",
}

# (pattern, msgid): the first that matches says it; {what}, {expected} and {got} are
# the names or tokens Jinja's message quoted
_SYNTAX = (
    (r"No filter named '(?P<what>[^']*)'", N_("no filter named {what}")),
    (r"No test named '(?P<what>[^']*)'", N_("no test named {what}")),
    (r"Encountered unknown tag '(?P<what>[^']*)'", N_("unknown tag {what} (or it closes nothing opened before)")),
    (
        r"(?s)Unexpected end of template\..*innermost block that needs to be closed is '(?P<what>[^']*)'",
        N_("the template ends before its {what} block is closed"),
    ),
    (
        r"unexpected end of template, expected '(?P<expected>[^']*)'",
        N_("the template ends where {expected} was expected"),
    ),
    (r"unexpected '(?P<got>[^']*)', expected '(?P<expected>[^']*)'", N_("expected {expected}, got {got}")),
    (r"expected token '(?P<expected>[^']*)', got '(?P<got>[^']*)'", N_("expected {expected}, got {got}")),
    (r"Expected an expression, got '(?P<got>[^']*)'", N_("expected a value, got {got}")),
    (r"(?s)unexpected char '(?P<got>.)' at \d+", N_("unexpected character {got}")),
    (r"unexpected '(?P<got>[^']*)'", N_("unexpected {got}")),
)


# an attribute a template may not read: refused at save time (core.templating.fields)
# when it is written out, by the sandbox at render time when a value names it
ATTRIBUTE_REFUSED = N_("attribute '{attribute}' is not allowed; only the listed variables are")

# the sandbox's refusals at render time, said as the save-time checks say them
_SECURITY = (
    (r"access to attribute '(?P<attribute>[^']*)' of '[^']*' object is unsafe", ATTRIBUTE_REFUSED),
    (r"(?s).* is not safely callable", N_("calling this is not allowed in a template")),
)


def syntax(message: str) -> str:
    """A Jinja syntax error's message (`TemplateSyntaxError.message`) in words."""
    return known_words(message, _SYNTAX, _token) or message


def _token(name: str) -> str:
    return f"'{_TOKENS.get(name, name)}'"


def runtime(error: Exception) -> str:
    """What went wrong rendering a template with a patient's values, in words."""
    if isinstance(error, SecurityError):
        return known_words(str(error), _SECURITY) or _("not allowed: {error}").format(error=error)
    if isinstance(error, UndefinedError):
        m = re.match(r"'(?P<name>[^']*)' is undefined", str(error))
        if m:  # used before the template sets it
            return _("unknown variable '{name}'").format(name=m.group("name"))
        return _("a value that does not exist here (an element or a key past the end)")
    if isinstance(error, ZeroDivisionError):
        return _("a division by zero")
    if isinstance(error, TypeError | ValueError):
        return _("a calculation mixes values that do not go together (text, numbers, dates)")
    return f"{type(error).__name__}: {error}"


__all__ = ["ATTRIBUTE_REFUSED", "runtime", "syntax"]
