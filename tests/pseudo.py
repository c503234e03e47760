"""A pseudo-locale to find the words that escape `core.i18n` (issue #17 item 3).

`build(folder)` compiles, from core/locale/clinicast.pot, a catalogue "pseudo" in which
every msgstr is its msgid with each run of its own words between ⟦ and ⟧ (plurals and
contexts too), its `{placeholders}` outside (`wrap`): rendered in it, every translated
word is wrapped, a value put into a sentence is not, and whatever a person would read
outside the wrappers was never translated (or is data the test allows).

    with speaking_pseudo():            # or the `pseudo_locale` fixture (tests/conftest.py has it)
        text = ...render a screen or run a command...
    assert not leaks(text, allowed=data_strings), leak_report(text, data_strings)

`leaks` keeps only words (letters) outside ⟦…⟧ that are neither data the test made (patient
and campaign names, the clinic's name, logins: `allowed`), nor key names, nor the month
names Babel writes for a language it does not know (core.formats shows the pseudo-locale
in English). Digits, punctuation, box drawing and symbols are never words.

The language is "pseudo" wherever the code chooses one: `core.i18n.use("pseudo")`, and
`core.preferences.language` / `language_of_file` answer "pseudo" while it is spoken, so a
TUI or command that picks its staff member's language lands on it too.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from core import i18n, preferences

LANGUAGE = "pseudo"
OPEN, CLOSE = "⟦", "⟧"
ELLIPSIS = "…"
POT = i18n.LOCALEDIR / "clinicast.pot"

# what a screen or a message may show outside the wrappers: key names (the footer's, the
# keys screen's), the product's name, and the words Babel writes for dates in the
# pseudo-locale (English: core.formats falls back to it). Compared case-insensitively.
KEY_NAMES = frozenset(
    """
    esc escape enter return tab shift ctrl alt meta super space backspace delete del insert ins
    home end pgup pgdn pageup pagedown up down left right f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12
    """.split()
)
PRODUCT = frozenset({"clinicast"})


def _month_words() -> frozenset[str]:
    from core import formats

    loc = formats.locale("en")
    words: set[str] = set()
    for width in ("abbreviated", "wide"):
        for ctx in ("format", "stand-alone"):
            words.update(loc.months[ctx][width].values())
    return frozenset(w.lower().rstrip(".") for w in words)


# a placeholder whose value is put in at run time: str.format's {name}, {0}, {n:,} (not a
# template's literal {{ … }}), and %-style %(name)s, %s, %d
_PLACEHOLDER = re.compile(r"(?<!\{)\{\w*(?:[:!][^{}]*)?\}(?!\})|%\(\w+\)[sdr]|%[sdr]")


def wrap(message: str) -> str:
    """`message` as the pseudo-locale says it: each run of its own words between ⟦ and ⟧,
    its placeholders outside, so that a value put in that was never translated (an
    English reason inside a translated sentence) is seen."""
    out: list[str] = []
    last = 0
    for m in _PLACEHOLDER.finditer(message):
        if m.start() > last:
            out.append(f"{OPEN}{message[last : m.start()]}{CLOSE}")
        out.append(m.group())
        last = m.end()
    if last < len(message) or not out:
        out.append(f"{OPEN}{message[last:]}{CLOSE}")
    return "".join(out)


def build(folder: Path | str | None = None) -> Path:
    """The pseudo catalogue compiled into `folder` (a new temp folder when None):
    `folder/pseudo/LC_MESSAGES/clinicast.mo`. Returns the folder (for $CLINICAST_LOCALEDIR)."""
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="clinicast-pseudo-"))
    with POT.open("rb") as f:
        template = read_po(f)
    catalog = Catalog(locale="en", domain=i18n.DOMAIN, fuzzy=False)  # English plural rule: 2 forms
    for message in template:
        if not message.id:
            continue  # the header
        if isinstance(message.id, tuple | list):
            string: str | tuple[str, ...] = tuple(wrap(m) for m in message.id)
        else:
            string = wrap(message.id)
        catalog.add(message.id, string, context=message.context)
    out = folder / LANGUAGE / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{i18n.DOMAIN}.mo").open("wb") as f:
        write_mo(f, catalog)
    return folder


@contextmanager
def speaking_pseudo(folder: Path | str | None = None) -> Iterator[Path]:
    """Speak the pseudo-locale (built into `folder`, or a temp folder) inside the block;
    the language, $CLINICAST_LOCALEDIR and $LANGUAGE are as before after it."""
    folder = Path(folder) if folder is not None and (Path(folder) / LANGUAGE).is_dir() else build(folder)
    before = i18n.current()
    saved = {k: os.environ.get(k) for k in ("CLINICAST_LOCALEDIR", "LANGUAGE")}
    language, language_of_file = preferences.language, preferences.language_of_file
    os.environ["CLINICAST_LOCALEDIR"] = str(folder)
    try:
        assert i18n.known(LANGUAGE), f"core.i18n does not accept the pseudo-locale built in {folder}"
        i18n.use(LANGUAGE)
        assert i18n.current() == LANGUAGE
        preferences.language = lambda *a, **k: LANGUAGE  # type: ignore[assignment]
        preferences.language_of_file = lambda *a, **k: LANGUAGE  # type: ignore[assignment]
        yield folder
    finally:
        preferences.language, preferences.language_of_file = language, language_of_file
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        i18n.use(before)


@pytest.fixture(scope="session")
def pseudo_localedir(tmp_path_factory) -> Path:
    """The pseudo catalogue, built once per test session."""
    return build(tmp_path_factory.mktemp("pseudo-locale"))


@pytest.fixture
def pseudo_locale(pseudo_localedir) -> Iterator[Path]:
    """The test runs in the pseudo-locale; as before afterwards."""
    with speaking_pseudo(pseudo_localedir) as folder:
        yield folder


# --- finding what escaped ---------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+")  # letters only: digits, punctuation and symbols are not words


def outside(text: str) -> str:
    """The text outside ⟦…⟧ (wrappers nest: a translated piece inside a translated sentence).

    Rendered text is cut and folded: a wrapper still open at a line's end goes on to the
    next line (a sentence folded by a Static); an ellipsis closes every open wrapper (a cell
    cut short); a ⟧ with none open closes a wrapper whose ⟦ was on an earlier line beside
    another pane, so the line up to it was inside."""
    out: list[str] = []
    depth = 0
    for line in text.split("\n"):
        kept: list[str] = []
        for ch in line:
            if ch == OPEN:
                depth += 1
            elif ch == CLOSE:
                if depth:
                    depth -= 1
                else:
                    kept.clear()  # the line so far was the end of a folded wrapper
                kept.append(" ")
            elif ch == ELLIPSIS:
                depth = 0
                kept.append(ELLIPSIS)
            elif depth == 0:
                kept.append(ch)
        out.append("".join(kept))
    return "\n".join(out)


_IDENTIFIER = re.compile(r"[A-Za-z]\w*(?:[._]\w+)+")  # patient.first_name, connected_system


def _is_identifier(s: str) -> bool:
    return _IDENTIFIER.fullmatch(s) is not None


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)  # a template's {{ … }} and {% … %}


def words_of(strings: Iterable[str]) -> frozenset[str]:
    """The words of `strings` (data a test made), lower-cased, as `leaks` compares them.
    An identifier (`patient.first_name`, alone or in a template's {{ }}) allows itself
    whole, not its words: an English « Patient's first name » beside it is still found."""
    return frozenset(
        w.lower() for s in strings if s and not _is_identifier(str(s)) for w in _WORD.findall(_TAG.sub(" ", str(s)))
    )


def identifiers_of(strings: Iterable[str]) -> list[str]:
    """The identifiers `strings` hold (whole, or inside a template's tags), longest first."""
    found: set[str] = set()
    for s in map(str, strings):
        if _is_identifier(s):
            found.add(s)
        for tag in _TAG.findall(s):
            found.update(_IDENTIFIER.findall(tag))
    return sorted(found, key=len, reverse=True)


def leaks(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The words a person would read in `text` outside ⟦…⟧ that are not in `allowed` (data
    strings: their words are allowed, and a word cut short by … that begins one of them),
    key names, single letters (the footer's keys) or Babel's month names. In order, once each."""
    allowed = [str(s) for s in allowed if s]
    ok = words_of(allowed) | KEY_NAMES | PRODUCT | _month_words()
    identifiers = identifiers_of(allowed)
    found: list[str] = []
    seen: set[str] = set()
    for line in outside(text).split("\n"):
        for ident in identifiers:  # whole only (a word boundary on each side)
            line = re.sub(rf"(?<![\w.]){re.escape(ident)}(?![\w])", " " * len(ident), line)
        for m in _WORD.finditer(line):
            word = m.group().lower()
            if len(word) == 1 or word in ok or word in seen:
                continue
            cut = text_after_is_cut(line, m.end())
            if cut and any(w.startswith(word) for w in ok):
                continue
            seen.add(word)
            found.append(m.group())
    return found


def text_after_is_cut(line: str, end: int) -> bool:
    """The word ending at `end` may have been cut short: an ellipsis follows it, the line's
    edge does, or a widget's border (box drawing, block elements)."""
    return end >= len(line.rstrip()) or line[end] == ELLIPSIS or "\u2500" <= line[end] <= "\u259f"


def leak_report(text: str, allowed: Iterable[str] = ()) -> str:
    """The lines of `text` holding a leak, with the words, for an assertion's message."""
    words = leaks(text, allowed)
    if not words:
        return "no untranslated text"
    wanted = {w.lower() for w in words}
    lines = [
        line.rstrip()
        for line, bare in zip(text.split("\n"), outside(text).split("\n"), strict=True)
        if any(w.lower() in wanted for w in _WORD.findall(bare))
    ]
    return "untranslated: " + ", ".join(words) + "\n" + "\n".join(f"  | {line}" for line in lines[:40])


def screen_lines(app, *, background: bool = False) -> str:
    """What the app's screen shows, as text lines: its compositor's full render (what
    Textual's screenshot draws: every widget, headers, footers and cut cells included),
    exported as plain text. A modal alone unless `background`: the screen beneath shows
    around it in pieces of words, and is scanned on its own."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    lines = console.export_text(styles=False).replace("\xa0", " ").split("\n")
    from textual.screen import ModalScreen

    if isinstance(app.screen, ModalScreen) and not background:  # each of its widgets' regions
        from textual.geometry import Region

        cropped = []
        for child in app.screen.children:
            if not child.display:
                continue
            # its own region, or (a container on an overlay layer, as the command palette's,
            # has none) the union of its widgets' regions
            regions = [w.region for w in (child, *child.query("*")) if w.region.area]
            if not regions:
                continue
            r = Region.from_union(regions)
            cropped += [line[r.x : r.right] for line in lines[r.y : r.bottom]]
        lines = cropped
    return "\n".join(line.rstrip() for line in lines)
