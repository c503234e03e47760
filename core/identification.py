"""The sender's identification every email ends with (SPEC §10, CASL): the clinic's
name, postal address and phone from `[clinic]`, in the email's language. Added after
the template is rendered, so no template can remove it."""

from __future__ import annotations

import html
from collections.abc import Mapping

# what patients read, in the email's language (not the staff's): written here, as the
# default invitation is (core.templating.defaults), not taken from the staff's catalogue
_WORDS = {
    "fr": ("Ce courriel vous est envoyé par", "Téléphone"),
    "en": ("This email is sent to you by", "Phone"),
}
# what comes between « Téléphone » and the number: typeset as Quebec writes French (a
# no-break space before the colon, as core.templating.defaults does), so that no line
# starts with it
_COLON = {"fr": "\u00a0: ", "en": ": "}
_HTML_STYLE = "margin-top: 2em; padding-top: 1em; border-top: 1px solid #ccc; color: #555; font-size: 0.9em;"


def lines(clinic: Mapping[str, str], language: str) -> list[str]:
    sent_by, phone = _WORDS.get(language, _WORDS["en"])
    out = [f"{sent_by} {clinic.get('name', '')}"]
    if clinic.get("address"):
        out.append(str(clinic["address"]))
    if clinic.get("phone"):
        out.append(f"{phone}{_COLON.get(language, _COLON['en'])}{clinic['phone']}")
    return out


def add(text: str, body_html: str, clinic: Mapping[str, str], language: str) -> tuple[str, str]:
    """(text, html) with the identification at their end, after the signature
    separator "-- " (its trailing space included: RFC 3676, mail clients know it)."""
    ids = lines(clinic, language)
    text = text.rstrip("\n") + "\n\n-- \n" + "\n".join(ids) + "\n"
    block = f'<footer style="{_HTML_STYLE}">\n<p>' + "<br>\n".join(html.escape(x) for x in ids) + "</p>\n</footer>\n"
    at = body_html.rfind("</body>")
    body_html = body_html + block if at < 0 else body_html[:at] + block + body_html[at:]
    return text, body_html
