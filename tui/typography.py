"""French typography on screen: a no-break space never breaks a line.

Quebec French puts a no-break space (U+00A0) before « : » and inside « », a narrow one
(U+202F) before ; ? ! — and Babel groups a number's thousands with one (« 5 000 »).
Rich, whose line division Textual's Content uses, and Textual's own wrapping find words
with Python's `\\s`, which matches those spaces too: « plus de 5 000 » was cut after the
5 and a line could begin with « ; ». Unicode's line breaking (UAX #14) classes them as
glue: no break on either side. `install()` makes both word patterns treat them as part
of a word; the only change is where a line may break.
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
