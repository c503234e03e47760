"""The gettext catalogues (SPEC §12) match the sources and French is complete.

A string wrapped in `_()` without `make messages` fails here (stale .pot); a msgid
without a French translation, or whose placeholders differ, fails here; a .po edited
without `make locale` fails here (stale .mo)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import click
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from core import i18n

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "core" / "locale"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "gettext": None, "pgettext": ((1, "c"), 2)}


def _key(msgid) -> str:
    return msgid if isinstance(msgid, str) else "\x00".join(msgid)


def extracted() -> set[str]:
    """What `make messages` extracts now (the Makefile's folders, babel.cfg's map)."""
    found: set[str] = set()
    folders = [ROOT / "core", ROOT / "cli", ROOT / "tui", Path(os.path.dirname(click.__file__))]
    for folder in folders:
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(folder), method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(_key(message))
    return found


GETTEXT_CALL = re.compile(r"(?<![\w.])(?:_|N_|ngettext|pgettext|gettext)\(")


def gettext_calls_in_f_strings(path: Path) -> list[int]:
    """Each `_()` (or N_, ngettext, pgettext) written inside an f-string of `path`: Babel
    extracts none of them, so their msgids never reach the catalogue and stay English."""
    import tokenize

    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
    depth = 0  # Python 3.12+: an f-string is FSTRING_START … FSTRING_END, its calls as tokens
    for i, tok in enumerate(tokens):
        kind = tokenize.tok_name[tok.type]
        if kind == "FSTRING_START":
            depth += 1
        elif kind == "FSTRING_END":
            depth -= 1
        elif tok.type == tokenize.STRING:  # Python 3.11: the whole f-string is one token
            prefix = re.match(r"[A-Za-z]*", tok.string)
            if prefix and "f" in prefix.group(0).lower() and GETTEXT_CALL.search(tok.string):
                found.append(tok.start[0])
        elif depth and tok.type == tokenize.NAME and GETTEXT_CALL.match(tok.string + tokens[i + 1].string):
            found.append(tok.start[0])
    return found


def test_no_msgid_is_hidden_in_an_f_string():
    """A msgid inside an f-string is never extracted: the template editor's "no body yet"
    stayed English in French."""
    hidden = [
        f"{f.relative_to(ROOT)}:{line}"
        for folder in ("core", "cli", "tui")
        for f in sorted((ROOT / folder).rglob("*.py"))
        for line in gettext_calls_in_f_strings(f)
    ]
    assert not hidden, f"a _() inside an f-string is never extracted: take the call out of it ({hidden})"


def test_the_f_string_check_finds_a_hidden_msgid(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "x = f\"*{errors.get('body', _('no body yet'))}*\"\ny = f\"{n} {_('fine')}\"\nz = f\"{_}\" + _('found')\n",
        encoding="utf-8",
    )
    assert gettext_calls_in_f_strings(sample) == [1, 2]


def catalogue(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def ids(cat) -> set[str]:
    return {_key(m.id) for m in cat if m.id}


def po(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "clinicast.po"


def test_pot_matches_the_sources():
    pot = ids(catalogue(LOCALE / "clinicast.pot"))
    now = extracted()
    missing, gone = sorted(now - pot), sorted(pot - now)
    assert not missing and not gone, (
        f"core/locale/clinicast.pot is stale: run `make messages` and translate the new fr entries "
        f"(not in the .pot: {missing[:5]}; no longer in the sources: {gone[:5]})"
    )


def click_msgids() -> set[str]:
    """The msgids `make messages` extracts from the installed click: click's own words."""
    folder = Path(os.path.dirname(click.__file__))
    return {_key(m) for _f, _l, m, _c, _ctx in extract_from_dir(str(folder), keywords=KEYWORDS)}


def reprs_in(pot: set[str], theirs: set[str]) -> list[str]:
    """The msgids of `pot` that are not click's and format a value with `!r` (Python's repr)."""
    return sorted(m for m in pot - theirs if re.search(r"\{[^{}]*!r[^{}]*\}", m))


def test_clinicast_quotes_a_value_in_the_reader_s_quotes_not_python_s():
    """A value a person typed is quoted as the reader's language quotes it, escaped on one
    line (core.textcheck.quoted_value: “x”, « x »), never by repr: `{value!r}` wrote 'x' in
    a French sentence. click's own msgids keep their `{name!r}` (click formats them, and
    the placeholder check above makes their French keep it): they are told apart by
    extracting click's source, as `make messages` does."""
    pot = ids(catalogue(LOCALE / "clinicast.pot"))
    theirs = click_msgids()
    assert reprs_in(pot & theirs, set()), "click's msgids with !r are in the .pot: the exclusion is needed"
    ours = reprs_in(pot, theirs)
    assert not ours, f"format these values with core.textcheck.quoted_value, not !r: {ours}"


def test_the_repr_check_tells_clinicast_s_msgids_from_click_s():
    pot = {"No such option {name!r}.", "created campaign #{id} {name!r} ({kind})", "got {value}", "{n!r:>4}"}
    assert reprs_in(pot, {"No such option {name!r}."}) == ["created campaign #{id} {name!r} ({kind})", "{n!r:>4}"]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_po_has_the_pot_s_msgids(lang):
    pot = ids(catalogue(LOCALE / "clinicast.pot"))
    have = ids(catalogue(po(lang)))
    assert have == pot, f"{po(lang)} is not merged with the .pot: run `make messages` ({sorted(have ^ pot)[:5]})"


PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sdr]|%[sdr]")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def problems_in(cat) -> list[str]:
    """Every msgid without a French translation, fuzzy, or whose placeholders differ."""
    problems = []
    for m in cat:
        if not m.id:
            continue
        singular = m.id if isinstance(m.id, str) else m.id[0]
        strings = list(m.string) if isinstance(m.string, tuple) else [m.string]
        if m.fuzzy or not all(strings):
            problems.append(f"untranslated: {singular!r}")
            continue
        sources = list(m.id) if isinstance(m.id, tuple) else [m.id]
        for i, s in enumerate(strings):
            src = sources[min(i, len(sources) - 1)]
            want, got = placeholders(src), placeholders(s)
            # a singular may leave out the count ("1 patient" -> "un patient"): only fewer, never others
            if got != want and not (len(sources) > 1 and set(got) <= set(placeholders(" ".join(sources)))):
                problems.append(f"placeholders differ: {src!r} {want} -> {s!r} {got}")
    return problems


def test_every_msgid_has_a_french_translation_with_the_same_placeholders():
    problems = problems_in(catalogue(po("fr")))
    assert not problems, f"{len(problems)} problems in {po('fr')}:\n" + "\n".join(problems[:40])


def test_the_check_catches_an_untranslated_string_and_a_lost_placeholder():
    text = (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Refresh"\nmsgstr ""\n\n'
        'msgid "no campaign with id {id}"\nmsgstr "aucune campagne"\n'
    )
    problems = problems_in(read_po(io.BytesIO(text.encode())))
    assert problems == [
        "untranslated: 'Refresh'",
        "placeholders differ: 'no campaign with id {id}' ['{id}'] -> 'aucune campagne' []",
    ]


# Quebec typography: a no-break space before ':' and inside « », a narrow no-break
# space before ';', '?', '!' (never an ordinary space, which a line could break at)
BAD_TYPOGRAPHY = re.compile(r" [:;?!»]|« |\u00a0[;?!]|\u202f:|«(?!\u00a0)|(?<!\u00a0)»|\"")


def test_french_typography():
    bad = []
    for m in catalogue(po("fr")):
        for s in m.string if isinstance(m.string, tuple) else [m.string]:
            src = " ".join(m.id) if isinstance(m.id, tuple) else m.id
            if s and BAD_TYPOGRAPHY.search(s.replace(src, "")) and '"' not in src:
                bad.append(s)
    assert not bad, "French typography (« », no-break spaces before : ; ? !):\n" + "\n".join(map(repr, bad[:20]))


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_mo_is_compiled_from_the_po(lang):
    buf = io.BytesIO()
    write_mo(buf, catalogue(po(lang)))
    mo = po(lang).with_suffix(".mo")
    assert mo.is_file() and mo.read_bytes() == buf.getvalue(), f"{mo} is stale: run `make locale`"


def test_french_words():
    """Quebec French: courriel, fin de semaine; never the France words."""
    words = " ".join(m.string if isinstance(m.string, str) else " ".join(m.string) for m in catalogue(po("fr")) if m.id)
    # config keys ([email], email.from, `email`), commands, fields
    words = re.sub(r"\[[^\]]*\]|`[^`]*`|\{[^}]*\}|\S+@\S+|\b[a-z_]+\.[a-z_.]+", "", words).lower()
    for france in ("e-mail", "email", "week-end", "weekend", "mail "):
        assert france not in words, france


def textual_binding_words() -> set[str]:
    """Every description of a binding Textual's own widgets and screens declare (a footer
    shows them: the Select menu's "Dismiss menu", an Input's…)."""
    import importlib
    import inspect
    import pkgutil

    import textual.widgets
    from textual.binding import Binding
    from textual.dom import DOMNode

    modules = ["textual.screen", "textual.command", "textual.app"]
    modules += [f"textual.widgets.{m.name}" for m in pkgutil.iter_modules(textual.widgets.__path__)]
    words = set()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra (tree-sitter languages…)
            continue
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, DOMNode) or not cls.__module__.startswith("textual"):
                continue
            for b in cls.__dict__.get("BINDINGS", []):
                description = b.description if isinstance(b, Binding) else (b[2] if len(b) > 2 else "")
                if description and (not isinstance(b, Binding) or b.show):
                    words.add(description)
    return words


def test_textual_s_own_binding_words_are_translated():
    """A Textual binding shown in a footer speaks French too (tui/keys.py TEXTUAL_WORDS):
    found in tmux, the open Select menu's "esc Dismiss menu" under a French staff member."""
    fr = i18n.translation("fr")
    missing = sorted(w for w in textual_binding_words() if fr.gettext(w) == w)
    assert not missing, missing
