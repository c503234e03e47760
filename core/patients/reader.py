"""Reading and validating a directory file as it goes, a chunk of rows at a time (a
directory of a million patients never sits in memory, issue #21): every bad row is
listed (`FILE:LINE: column “X”: expected ..., got “...”`) and one refuses the file.

`DirectoryReader(path, today)` opens the file and maps its columns; `chunks()` gives
each chunk's typed columns (`Chunk`), or None for a chunk with a problem; after the
last, `finish()` raises FileProblems listing every problem found, in line order. The
EMR key of each row (core.emr) is computed here once, and handed to the upsert.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from core import emr, formats, infile, textcheck
from core.csvio import BadRow, FileProblems, ProblemLines, Row, TableStream, norm
from core.errors import BadInput
from core.i18n import _, ngettext
from core.patients.cells import PARSERS, _Invalid
from core.patients.columns import ALIASES, map_columns

CHUNK_ROWS = 20_000


class _Bad:
    """A cell that failed to parse (kept in the column so positions stay aligned)."""

    __slots__ = ("expected",)

    def __init__(self, expected: str):
        self.expected = expected


_TEXT_LIMITS = {"first_name": 120, "last_name": 120, "phone": 40, "practitioner": 120}


def _convert(field_name: str, col: list[str]) -> tuple[list, bool]:
    """(typed values, any bad?) for one column; bad cells hold a _Bad. Each distinct
    value is parsed once (booleans, dates, codes repeat a lot); plain text columns
    within their length limit are taken as they are."""
    limit = _TEXT_LIMITS.get(field_name)
    if limit is not None and max(map(len, col), default=0) <= limit:
        return col, False
    if field_name == "emr_id" and all(col) and max(map(len, col), default=0) <= 64:
        return col, False
    parse = PARSERS[field_name]
    cache: dict[str, object] = {}
    bad = False
    for v in set(col):
        try:
            cache[v] = parse(v)
        except _Invalid as e:
            cache[v] = _Bad(e.args[0])
            bad = True
    return list(map(cache.__getitem__, col)), bad


@dataclass
class Chunk:
    """A chunk of valid rows: typed values column by column (the file's fields, emr_id
    first) and each row's EMR key."""

    columns: dict[str, list]
    keys: list[str]

    def __len__(self) -> int:
        return len(self.keys)


class DirectoryReader:
    """A directory file being read: `with DirectoryReader(path, today) as r:`."""

    def __init__(self, path: os.PathLike | str, today: date | None = None, chunk_rows: int | None = None):
        self.path, self.today, self.chunk_rows = path, today, chunk_rows or CHUNK_ROWS
        self.rows = 0  # rows read so far (bad ones included)
        self.problems = ProblemLines()
        self.bad_lines = 0
        # the first line of each EMR key seen; the id as written when it differs from its key
        self._seen: dict[str, int | tuple[int, str]] = {}

    def __enter__(self) -> DirectoryReader:
        if str(self.path) == infile.STDIN:  # `-`: the standard input, read whole (bounded)
            raw = infile.read_bytes(self.path, limit=infile.CSV_LIMIT, what=_("a CSV file"))
            self.stream = TableStream.of_bytes(raw, infile.STDIN_LABEL).__enter__()
        else:
            self.stream = TableStream(self.path, limit=infile.CSV_LIMIT).__enter__()
        try:
            self._map()
        except BaseException:
            self.stream.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stream.__exit__(*exc)

    def _map(self) -> None:
        s = self.stream
        mapping, self.ignored_columns = map_columns(s.table([], []))
        if "emr_id" not in mapping:
            expected = ", ".join(ALIASES["emr_id"][:8])
            raise BadInput(
                _("{where}: no EMR id column (expected one named like {expected}...); found: {found}").format(
                    where=f"{s.label}:{s.header_line}", expected=expected, found=", ".join(s.header)
                )
            )
        self.mapping = mapping
        self.fields = list(mapping)
        self.names = {f: s.columns[k] for f, k in mapping.items()}
        self._position = {k: n for n, k in enumerate(s.columns)}
        self._index = {k: n for n, k in enumerate(s.keys)}

    @property
    def encoding(self) -> str:
        return self.stream.encoding

    @property
    def delimiter(self) -> str:
        return self.stream.delimiter

    def chunks(self) -> Iterator[Chunk | None]:
        """Each chunk's valid rows, in the file's order; None for a chunk with a problem
        (the file is refused: nothing of it may be written, but reading goes on so that
        every problem is listed)."""
        for rows, bad in self.stream.chunks(self.chunk_rows):
            self.rows += len(rows) + len(bad)
            yield self._check(rows, bad)

    def _check(self, rows: list[Row], bad: list[BadRow]) -> Chunk | None:
        """One chunk checked in steps: each cell typed, EMR ids unique (by key), no birth
        after today; every problem recorded by line and column."""
        problems: dict[int, list[tuple[int, str]]] = {b.line: [(-1, b.message)] for b in bad}
        lines = [r.line for r in rows]
        position = self._position

        def problem(i: int, label: str, text: str) -> None:
            said = _("column {name}: {problem}").format(name=textcheck.quoted_value(label), problem=text)
            problems.setdefault(lines[i], []).append((position[norm(label)], said))

        columns = self._typed_columns(rows, problem)
        keys = self._unique_ids(columns["emr_id"], lines, problem)
        self._births_not_after_today(columns.get("date_of_birth"), rows, problem)
        self._record(problems)
        if problems or self.problems:
            return None
        return Chunk(columns, keys)

    def _typed_columns(self, rows: list[Row], problem) -> dict[str, list]:
        """Each mapped column's cells typed by their field's parser; a cell that does not
        parse, or holds a control character, is a problem."""
        columns: dict[str, list] = {}
        transposed = list(zip(*[r.fields for r in rows], strict=False)) if rows else []
        for f in self.fields:
            key = self.mapping[f]
            raw = list(transposed[self._index[key]]) if rows else []
            typed, is_bad = _convert(f, raw)
            label = self.stream.columns[key]
            if is_bad:
                for i, v in enumerate(typed):
                    if v.__class__ is _Bad:
                        got = textcheck.quoted_value(raw[i]) if raw[i] else _("an empty value")
                        problem(i, label, _("expected {what}, got {value}").format(what=v.expected, value=got))
            if not " ".join(raw).isprintable():  # a line break, tab, NUL... somewhere (issue #8)
                for i, v in enumerate(raw):
                    c = textcheck.first_control(v)
                    if c is not None and typed[i].__class__ is not _Bad:
                        problem(
                            i,
                            label,
                            _(
                                "expected text without control characters (line breaks, tabs, NUL, "
                                "zero-width or direction marks), got {what} in {value}"
                            ).format(what=textcheck.describe(c), value=textcheck.quoted_value(v)),
                        )
            columns[f] = typed
        return columns

    def _unique_ids(self, emrs: list, lines: list[int], problem) -> list[str]:
        """Each row's EMR key; an id seen before in the file (`1` and `00001` are one
        patient, core.emr) is a problem naming the first line."""
        keys = [emr.key(e) if e.__class__ is str else "" for e in emrs]
        seen = self._seen
        label = self.stream.columns[self.mapping["emr_id"]]
        for i, k in enumerate(keys):
            if not k and emrs[i].__class__ is not str:
                continue
            first = seen.get(k)
            if first is None:
                seen[k] = lines[i] if emrs[i] == k else (lines[i], emrs[i])
                continue
            first_line, first_id = first if isinstance(first, tuple) else (first, k)
            if emrs[i] == first_id:
                said = _("duplicate EMR id {id}, already on line {line}")
            else:
                said = _("duplicate EMR id {id} (the same id as {first}), already on line {line}")
            problem(
                i,
                label,
                said.format(
                    id=textcheck.quoted_value(emrs[i]), first=textcheck.quoted_value(first_id), line=first_line
                ),
            )
        return keys

    def _births_not_after_today(self, dobs: list | None, rows: list[Row], problem) -> None:
        today = self.today
        if not (today and dobs) or max((d for d in set(dobs) if d.__class__ is date), default=today) <= today:
            return
        key = self.mapping["date_of_birth"]
        j = self._index[key]
        for i, d in enumerate(dobs):
            if d.__class__ is date and d > today:
                problem(
                    i,
                    self.stream.columns[key],
                    _("expected a date of birth not after today, got {value}").format(
                        value=textcheck.quoted_value(rows[i].fields[j])
                    ),
                )

    def _record(self, problems: dict[int, list[tuple[int, str]]]) -> None:
        """The chunk's problems, by line and then by column, as FILE:LINE: lines."""
        where = self.stream.label
        for line in sorted(problems):
            self.bad_lines += 1
            for _position, msg in sorted(problems[line], key=lambda p: p[0]):
                self.problems.add(f"{where}:{line}: {msg}")

    def finish(self) -> None:
        """Raise FileProblems (every problem found) or BadInput (no patient at all)."""
        s = self.stream
        if not self.rows and not self.problems:
            raise BadInput(
                _(
                    "{where}: only a header row, no patient; nothing imported "
                    "(expected one row per patient after the header)"
                ).format(where=f"{s.label}:{s.header_line}")
            )
        if self.problems:
            n = self.bad_lines
            said = ngettext("{where}: {n} bad row, nothing imported", "{where}: {n} bad rows, nothing imported", n)
            raise FileProblems(said.format(where=s.label, n=formats.number(n)), self.problems)
