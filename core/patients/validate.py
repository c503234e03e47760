"""Reading and validating a directory file before anything is written: every bad row
is listed (`FILE:LINE: column 'X': expected ..., got '...'`) and one refuses the file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

from core import emr, textcheck
from core.csvio import FileProblems, Table, norm, read_table
from core.errors import BadInput
from core.i18n import ngettext
from core.patients.cells import PARSERS, _Invalid
from core.patients.columns import ALIASES, map_columns


def _quote(v: str) -> str:
    return "'" + textcheck.visible(v, 80) + "'"


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
class Directory:
    """A validated directory file: typed values column by column."""

    table: Table
    columns: dict[str, list]  # field -> typed values in row order (the file's fields, emr_id first)
    names: dict[str, str]  # field -> its column as written in the file
    ignored_columns: list[str]

    @property
    def fields(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.table.rows)


def read_patients(path: os.PathLike | str, today: date | None = None) -> Directory:
    """Read and validate a directory file without touching the database (dates of
    birth after `today` are refused when it is given). Raises FileProblems listing every bad row (the message: a
    summary line, then one `FILE:LINE: column 'X': expected ..., got '...'` line each),
    BadInput for an unusable file (unreadable, empty, no EMR id column)."""
    table = read_table(path)
    mapping, ignored = map_columns(table)
    if "emr_id" not in mapping:
        expected = ", ".join(ALIASES["emr_id"][:8])
        raise BadInput(
            f"{table.name}:{table.header_line}: no EMR id column (expected one named like "
            f"{expected}...); found: {', '.join(table.header)}"
        )
    fields = list(mapping)
    rows = table.rows
    lines = [r.line for r in rows]
    problems: dict[int, list[tuple[int, str]]] = {b.line: [(-1, b.message)] for b in table.bad_rows}
    position = {k: n for n, k in enumerate(table.columns)}

    def problem(i: int, label: str, text: str) -> None:
        pos = position[norm(label)]
        problems.setdefault(lines[i], []).append((pos, f"column {_quote(label)}: {text}"))

    columns: dict[str, list] = {}
    position_of = {k: n for n, k in enumerate(rows[0].keys)} if rows else {}
    transposed = list(zip(*[r.fields for r in rows], strict=False)) if rows else []
    for f in fields:
        key = mapping[f]
        raw = list(transposed[position_of[key]]) if rows else []
        typed, bad = _convert(f, raw)
        label = table.columns[key]
        if bad:
            for i, v in enumerate(typed):
                if v.__class__ is _Bad:
                    got = _quote(raw[i]) if raw[i] else "an empty value"
                    problem(i, label, f"expected {v.expected}, got {got}")
        if not " ".join(raw).isprintable():  # a line break, tab, NUL... somewhere (issue #8)
            for i, v in enumerate(raw):
                c = textcheck.first_control(v)
                if c is not None and typed[i].__class__ is not _Bad:
                    problem(
                        i,
                        label,
                        f"expected text without control characters (line breaks, tabs, NUL, "
                        f"zero-width or direction marks), got {textcheck.describe(c)} in {_quote(v)}",
                    )
        columns[f] = typed

    # EMR ids are compared by their key (core.emr): `1` and `00001` are one patient
    emrs = columns["emr_id"]
    keys = [emr.key(e) if e.__class__ is str else None for e in emrs]
    if len(set(keys)) != len(keys):
        seen: dict[str, int] = {}
        label = table.columns[mapping["emr_id"]]
        for i, k in enumerate(keys):
            if k is not None:
                first = seen.setdefault(k, i)
                if first != i:
                    same = "" if emrs[i] == emrs[first] else f" (the same id as {_quote(emrs[first])})"
                    problem(i, label, f"duplicate EMR id {_quote(emrs[i])}{same}, already on line {lines[first]}")
    dobs = columns.get("date_of_birth")
    if today and dobs and max((d for d in set(dobs) if d.__class__ is date), default=today) > today:
        key = mapping["date_of_birth"]
        for i, d in enumerate(dobs):
            if d.__class__ is date and d > today:
                problem(
                    i,
                    table.columns[key],
                    f"expected a date of birth not after today, got {_quote(rows[i].values[key])}",
                )
    if not rows and not problems:
        raise BadInput(
            f"{table.where(table.header_line)}: only a header row, no patient; nothing imported "
            "(expected one row per patient after the header)"
        )
    if problems:
        bad_lines = sorted(problems)
        n = len(bad_lines)
        summary = ngettext("{file}: {n} bad row, nothing imported", "{file}: {n} bad rows, nothing imported", n).format(
            file=table.name, n=n
        )
        raise FileProblems(
            summary,
            [
                f"{table.where(line)}: {msg}"
                for line in bad_lines
                for _, msg in sorted(problems[line], key=lambda p: p[0])
            ],
        )
    return Directory(table, columns, {f: table.columns[k] for f, k in mapping.items()}, ignored)
