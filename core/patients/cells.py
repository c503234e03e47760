"""One cell of the directory file: the parser of each field (dates, booleans, sex,
language, email, postal code, EMR and app ids), and `name_key`, the form of
`search_name`. The rules and the decisions behind them are in the package docstring."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from core import dates, search
from core.folding import fold
from core.i18n import N_, _


class _Invalid(Exception):
    """A cell that cannot be used; the argument is what was expected."""


def _text(max_len: int) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if len(v) > max_len:
            raise _Invalid(_("at most {max} characters").format(max=max_len))
        return v

    return parse


TRUE = frozenset({"yes", "oui", "true", "vrai", "1", "y", "o"})
FALSE = frozenset({"no", "non", "false", "faux", "0", "n", ""})
BOOL_EXPECTED = N_("yes/no, oui/non, true/false, 1/0")


def parse_bool(v: str) -> bool:
    k = v.casefold()
    if k in TRUE:
        return True
    if k in FALSE:
        return False
    raise _Invalid(_(BOOL_EXPECTED))


def parse_date(v: str) -> date | None:
    try:  # one definition of a day and its range, core.dates (issue #8)
        return dates.parse(v, lenient=True)
    except dates.DateProblem as e:
        raise _Invalid(str(e)) from None


SEXES = {
    "f": "F",
    "female": "F",
    "femme": "F",
    "feminin": "F",
    "w": "F",
    "woman": "F",
    "m": "M",
    "male": "M",
    "homme": "M",
    "h": "M",
    "masculin": "M",
    "man": "M",
    "x": "X",
    "other": "X",
    "autre": "X",
    "non-binaire": "X",
    "non binaire": "X",
    "nonbinary": "X",
    "non-binary": "X",
    "": "",
    "u": "",
    "unknown": "",
    "inconnu": "",
    "nd": "",
    "n/a": "",
}


def parse_sex(v: str) -> str:
    try:
        return SEXES[fold(v)]
    except KeyError:
        raise _Invalid(_("F, M or X (or femme/homme/autre, female/male/other, or empty)")) from None


LANGUAGES = {
    "fr": "fr",
    "francais": "fr",
    "french": "fr",
    "fra": "fr",
    "fre": "fr",
    "en": "en",
    "anglais": "en",
    "english": "en",
    "eng": "en",
    "ang": "en",
    "": "",
}


def parse_language(v: str) -> str:
    try:
        return LANGUAGES[fold(v)]
    except KeyError:
        raise _Invalid(_("fr or en (or français/anglais, french/english, or empty)")) from None


_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+$")


def is_email(v: str) -> bool:
    """One address like name@example.org (the import's rule, and the config's). A domain
    with accents must be a valid internationalised domain name: it is sent in its IDNA
    form (core.channels.compose.envelope), and one that has none could never be sent to.
    Accents before the @ are accepted (RFC 6531): whether they can be sent depends on the
    SMTP server (SMTPUTF8), which the send checks and words for that recipient."""
    if len(v) > 254 or _EMAIL.match(v) is None:
        return False
    domain = v.rpartition("@")[2]
    if domain.isascii():
        return True
    import idna  # only for a domain with accents: most imports never need it

    try:
        idna.encode(domain, uts46=True)
    except idna.IDNAError:
        return False
    return True


def parse_email(v: str) -> str:
    if not v:
        return ""
    if not is_email(v):
        raise _Invalid(_("one email address like name@example.org"))
    return v.lower()


_POSTAL = re.compile(r"([A-Z]\d[A-Z])\s*(\d[A-Z]\d)$")


def parse_postal(v: str) -> str:
    v = " ".join(v.upper().split())
    m = _POSTAL.match(v)
    if m:
        return f"{m[1]} {m[2]}"
    if len(v) > 16:
        raise _Invalid(_("a postal code (at most 16 characters)"))
    return v


def parse_emr(v: str) -> str:
    if not v:
        raise _Invalid(_("an EMR id (required)"))
    if len(v) > 64:
        raise _Invalid(_("an EMR id of at most 64 characters"))
    return v


def parse_app_id(v: str) -> str | None:
    if len(v) > 64:
        raise _Invalid(_("an app account id of at most 64 characters"))
    return v or None


PARSERS: dict[str, Callable[[str], object]] = {
    "emr_id": parse_emr,
    "first_name": _text(120),
    "last_name": _text(120),
    "date_of_birth": parse_date,
    "sex": parse_sex,
    "language": parse_language,
    "email": parse_email,
    "phone": _text(40),
    "app_id": parse_app_id,
    "marketing_consent": parse_bool,
    "push_enabled": parse_bool,
    "do_not_contact": parse_bool,
    "practitioner": _text(120),
    "postal_code": parse_postal,
    "last_visit": parse_date,
}
DATE_FIELDS = ("date_of_birth", "last_visit")


def name_key(*parts: str) -> str:
    """Lower-case, accent-free words separated by one space: the form of `search_name`
    (`name_key("Côté", "Marie-Ève")` -> `cote marie eve`; core.search's one rule)."""
    return search.key(*parts)


def _name_keys(pairs) -> list[str]:
    """name_key(last, first) for many pairs; each distinct name is folded once."""
    memo: dict[str, str] = {}
    out = []
    for last, first in pairs:
        a = memo.get(last)
        if a is None:
            a = memo[last] = name_key(last)
        b = memo.get(first)
        if b is None:
            b = memo[first] = name_key(first)
        out.append(f"{a} {b}" if a and b else a or b)
    return out
