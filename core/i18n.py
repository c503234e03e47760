"""The staff's language (SPEC §12): every word a person reads goes through here.

`_("text")` translates now, into the language in use; `N_("text")` only marks a constant
for extraction (translate it with `_` where it is shown); `ngettext` for plurals.
Catalogues are gettext's, made with Babel (`make messages` extracts core/locale/clinicast.pot
and updates the .po files, `make locale` compiles core/locale/<lang>/LC_MESSAGES/clinicast.mo).
One process serves one person (a TUI or a command over SSH), so the language is the
process's: `use("fr")` once the staff member is known. `--json` never goes through here.

click translates its own words ("Usage:", "Show this message and exit.") with the
`gettext` module's global functions: `use` points that global domain at this catalogue
(its msgids are extracted from the installed click into ours).

$CLINICAST_LOCALEDIR names a folder searched before the package's: the tests build a
pseudo-locale there (every msgstr wrapped in ⟦…⟧) to find strings that escape `_`.
"""

from __future__ import annotations

import gettext
import os
import re  # gettext imports it anyway
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

DOMAIN = "clinicast"
LOCALEDIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT = "en"

_language = DEFAULT


def _folders() -> list[Path]:
    extra = os.environ.get("CLINICAST_LOCALEDIR")
    return [Path(extra), LOCALEDIR] if extra else [LOCALEDIR]


# the folder found for (language, $CLINICAST_LOCALEDIR): a catalogue found stays found,
# so a word costs a dict lookup, not three path joins and a stat (a list of 200
# campaigns says ~500 words: 17 ms; issue #21)
_FOUND: dict[tuple[str, str], Path] = {}


def _folder_of(language: str) -> Path | None:
    key = (language, os.environ.get("CLINICAST_LOCALEDIR", ""))
    found = _FOUND.get(key)
    if found is not None:
        return found
    for folder in _folders():
        if (folder / language / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
            _FOUND[key] = folder
            return folder
    return None  # looked for again next time: a catalogue may be compiled meanwhile


@cache
def _translation(language: str, folder: Path | None) -> gettext.NullTranslations:
    if folder is None:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, folder, [language], fallback=True)


def translation(language: str) -> gettext.NullTranslations:
    return _translation(language, _folder_of(language))


def known(language: str) -> bool:
    """A language clinicast speaks (or a test's pseudo-locale)."""
    return language in LANGUAGES or (bool(os.environ.get("CLINICAST_LOCALEDIR")) and _folder_of(language) is not None)


def use(language: str) -> None:
    """Speak `language` from now on in this process (and so does click)."""
    global _language
    _language = language if known(language) else DEFAULT
    folder = _folder_of(_language)
    if folder is not None:  # click's `gettext.gettext`: the global domain, languages from $LANGUAGE
        gettext.bindtextdomain(DOMAIN, str(folder))
        gettext.textdomain(DOMAIN)
    os.environ["LANGUAGE"] = _language


def current() -> str:
    return _language


def _(message: str) -> str:
    return translation(_language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translation(_language).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` where English uses one word for two French ones ("sent": envoyé, envoyée)."""
    return translation(_language).pgettext(context, message)


def N_(message: str) -> str:
    return message


def known_words(text: str, table: Iterable[tuple[str, str]], value: Callable[[str], object] = str) -> str | None:
    """A library's own English message (tomllib's, the csv module's, Jinja's) in the
    language in use: the msgid of the first (pattern, msgid) of `table` whose pattern
    matches the start of `text`, the pattern's named groups put in (each through
    `value`); None when no pattern matches."""
    for pattern, msgid in table:
        m = re.match(pattern, text)
        if m:
            return _(msgid).format(**{k: value(v) for k, v in m.groupdict().items()})
    return None


def quoted(text: object) -> str:
    """Words quoted as the language in use writes them: “x” in English, « x » in French
    (the audit trail's notes and searches, a screen's field named in a message)."""
    return _("“{text}”").format(text=text)


def clauses(parts: Iterable[str]) -> str:
    """Clauses of one sentence, joined as the language in use writes them: "a; b" in
    English, « a ; b » in French (a narrow no-break space before the semicolon)."""
    return _("; ").join(parts)


__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALEDIR",
    "N_",
    "_",
    "clauses",
    "current",
    "known",
    "known_words",
    "ngettext",
    "pgettext",
    "quoted",
    "translation",
    "use",
]
