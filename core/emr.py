"""EMR ids (chart numbers): how two spellings of one id are recognised as one.

Decision (SPEC is silent): an id is compared by its *key* — Unicode NFKC-normalised
(full-width digits become ASCII), invisible characters dropped (a zero-width space
pasted from a web page; never a line break or another control character, so that
`10⏎0` is not `100`: an id holding one matches nothing), case folded, and for an all-digit chart
number the leading zeros dropped (`00001` is `1`: Excel drops them when it opens and
saves an export, and the record system prints them only as padding). Import, id lists,
`--patient` and searches all use this one function, so they always agree. The id
itself is stored and shown as the record system wrote it.
"""

from __future__ import annotations

import unicodedata


def key(emr_id: str) -> str:
    """The comparison key of an EMR id ('' for an id with no visible character)."""
    if emr_id.isascii() and emr_id.isprintable():  # nearly every id: NFKC changes nothing
        s = emr_id.strip().casefold()
        return (s.lstrip("0") or "0") if s.isdigit() else s
    s = unicodedata.normalize("NFKC", emr_id)
    s = "".join(c for c in s if unicodedata.category(c) != "Cf").strip().casefold()
    if s.isdigit() and s.isascii():
        s = s.lstrip("0") or "0"
    return s
