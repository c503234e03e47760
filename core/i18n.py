"""The staff's language (SPEC §12): every word a person reads goes through here.

`_("text")` translates now, into the language in use; `N_("text")` only marks a constant
for extraction (translate it with `_` where it is shown); `ngettext` for plurals.
Catalogues are gettext's, made with Babel: core/locale/<lang>/LC_MESSAGES/clinicast.mo.
One process serves one person (a TUI or a command over SSH), so the language is the
process's: `use("fr")` once the staff member is known. `--json` never goes through here.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

DOMAIN = "clinicast"
LOCALEDIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "en"

_language = DEFAULT


@cache
def translation(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALEDIR, [language], fallback=True)


def use(language: str) -> None:
    """Speak `language` from now on in this process."""
    global _language
    _language = language if language in LANGUAGES else DEFAULT


def current() -> str:
    return _language


def _(message: str) -> str:
    return translation(_language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translation(_language).ngettext(singular, plural, n)


def N_(message: str) -> str:
    return message


__all__ = ["DOMAIN", "LANGUAGES", "LOCALEDIR", "N_", "_", "current", "ngettext", "use"]
