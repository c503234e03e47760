"""French typography on screen: a no-break space never breaks a line.

Quebec French puts a no-break space (U+00A0) before « : » and inside « », a narrow one
(U+202F) before ; ? ! — and Babel groups a number's thousands with one (« 5 000 »).
Rich, whose line division Textual's Content uses, and Textual's own wrapping find words
with Python's `\\s`, which matches those spaces too: « plus de 5 000 » was cut after the
5 and a line could begin with « ; ». Unicode's line breaking (UAX #14) classes them as
glue: no break on either side. `install()` makes both word patterns treat them as part
of a word; the only change is where a line may break. Textual's Markdown widget also
turns them into plain spaces before wrapping: `install()` keeps them there too.
"""

from __future__ import annotations

import re

NO_BREAK = "\u00a0\u202f\u2007\u2060"  # no-break, narrow no-break, figure space, word joiner
_IN_WORD = rf"[\S{NO_BREAK}]"  # not whitespace, or a space that glues
_BREAK = rf"[^\S{NO_BREAK}]"  # whitespace a line may break at


def install() -> None:
    import rich._wrap
    import textual._wrap

    rich._wrap.re_word = re.compile(rf"{_BREAK}*{_IN_WORD}+{_BREAK}*")
    textual._wrap.re_chunk = re.compile(rf"{_IN_WORD}+{_BREAK}*|{_BREAK}+")
    _markdown_keeps_no_break()


# Private-use characters standing in for the no-break spaces while Textual reads a line of
# Markdown: it turns every run of `\s` (no-break spaces too) into a plain space, and the
# template preview then broke « patient.frist_name / » and « « / patient.first_name ».
_HIDE = str.maketrans({c: chr(0xE000 + i) for i, c in enumerate(NO_BREAK)})
_SHOW = str.maketrans({chr(0xE000 + i): c for i, c in enumerate(NO_BREAK)})


def _markdown_keeps_no_break() -> None:
    from textual.content import Content
    from textual.widgets._markdown import MarkdownBlock

    read = MarkdownBlock._token_to_content
    if getattr(read, "keeps_no_break", False):
        return

    def token_to_content(self, token):
        texts = [c for c in token.children or () if c.type == "text" and any(ch in c.content for ch in NO_BREAK)]
        if not texts:
            return read(self, token)
        kept = [c.content for c in texts]
        for child in texts:
            child.content = child.content.translate(_HIDE)
        try:
            content = read(self, token)
        finally:
            for child, text in zip(texts, kept, strict=True):
                child.content = text
        return Content(content.plain.translate(_SHOW), spans=list(content.spans))  # same length: same spans

    token_to_content.keeps_no_break = True  # type: ignore[attr-defined]
    MarkdownBlock._token_to_content = token_to_content  # type: ignore[method-assign]
