"""One search rule for every search staff type (issue #18): case- and accent-
insensitive, every typed word found somewhere, in any order. "medecin" finds
"Nouvelle médecin", "marie trem" finds "Tremblay, Marie"; campaigns, recipients and
the patient directory all search this way.

`key` is the folded form (lower case, no accents, words split on anything that is not
a letter or digit); `matches` compares in Python (short lists: campaigns); `sql_words`
is the same rule over a column that already holds the folded form (`Patient.search_name`).
"""

from __future__ import annotations

import re

import peewee as pw

from core.db import is_postgres
from core.folding import fold

_NON_WORD = re.compile(r"[\W_]+")


def key(*parts: str) -> str:
    """Lower-case, accent-free words separated by one space (`key("Côté", "Marie-Ève")`
    -> `cote marie eve`): the form `Patient.search_name` is stored in."""
    return " ".join(_NON_WORD.sub(" ", fold(" ".join(parts))).split())


def words(query: str) -> list[str]:
    return key(query).split()


def matches(text: str, query: str) -> bool:
    """Every word of `query` appears in `text` (folded), in any order."""
    folded = key(text)
    return all(w in folded for w in words(query))


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like(column, pattern: str):
    """`column LIKE pattern ESCAPE '\\'`, case-sensitive on PostgreSQL (callers pass
    lower-case text for lower-case columns); peewee's OP.LIKE would be GLOB on SQLite,
    whose LIKE is ASCII-case-insensitive."""
    op = pw.OP.LIKE if is_postgres() else pw.OP.ILIKE
    return pw.Expression(
        column, op, pw.NodeList((pw.Value(pattern, converter=False), pw.SQL("ESCAPE"), pw.Value("\\", converter=False)))
    )


def sql_words(folded_column, query: str):
    """The rule in SQL over a column holding `key(...)`: every word somewhere (None
    when the query has no word)."""
    cond = None
    for w in words(query):
        e = like(folded_column, "%" + like_escape(w) + "%")
        cond = e if cond is None else cond & e
    return cond
