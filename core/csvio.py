"""Reading the CSV files clinics really export (SPEC §4, §9).

EMR and spreadsheet exports come as UTF-8 with or without a BOM, or Windows-1252
(Excel's "CSV" on a French Windows: which one, `core/csvencoding.py` decides), separated
by `,` `;` or tab, with Excel quoting (fields holding the separator, quotes or line
breaks). `read_table` decodes and splits such a file and keeps, for every record, the
physical line where it starts, so every problem can be reported as `FILE:LINE: ...`.

Header names are compared through `norm()`: case, accents, spaces, underscores and
punctuation do not matter (`N° dossier`, `no_dossier` and `No Dossier` are one name).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from core import csvencoding, formats, infile
from core.errors import BadInput
from core.folding import without_accents
from core.i18n import N_, _, known_words, ngettext
from core.textcheck import quoted_value

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab")}
# the csv module's words (Python's own English) as the staff member's: (pattern, msgid)
_CSV_WORDS = (
    (r"field larger than field limit \((?P<limit>\d+)\)", N_("a field is longer than {limit} characters")),
    (r"line contains NUL", N_("a NUL byte (U+0000) in the line")),
    (r"new-line character seen in unquoted field", N_("a line break inside a field without quotes")),
)


def _csv_problem(e: csv.Error) -> str:
    """What the csv module refused, in the language in use (its own words when unknown)."""
    return known_words(str(e), _CSV_WORDS, lambda n: formats.number(int(n))) or str(e)


class ProblemLines:
    """A file's problem lines, in order, all kept however many: in memory while they are
    few, then in an unnamed temporary file (owner-only, gone when closed), so a file of a
    million bad rows is refused with every line listed in bounded memory (issue #21)."""

    KEEP = 10_000  # lines held in memory before the rest goes to the file

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._file: IO[str] | None = None
        self._n = 0

    def add(self, line: str) -> None:
        self._n += 1
        if self._file is None and len(self._lines) < self.KEEP:
            self._lines.append(line)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")
        self._file.write(line.replace("\n", " ") + "\n")

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __iter__(self) -> Iterator[str]:
        yield from self._lines
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            for line in self._file:
                yield line.rstrip("\n")
            self._file.seek(0, os.SEEK_END)

    def __getitem__(self, i: int) -> str:
        if 0 <= i < len(self._lines):
            return self._lines[i]
        return next(itertools.islice(iter(self), i if i >= 0 else self._n + i, None))

    @property
    def spilled(self) -> bool:
        return self._file is not None


class FileProblems(BadInput):
    """A file refused with every problem found: `str()` is a summary line, then one
    `FILE:LINE: ...` line per problem; `.problems` holds those lines (a `ProblemLines`
    for a file with many: iterate it, or `lines()`, rather than `str()` the whole).
    With `shown`, only the first `shown` problems are said, then "… and N more problems"."""

    def __init__(self, summary: str, problems: list[str] | ProblemLines, shown: int | None = None):
        self.summary = summary
        self.problems = problems
        self.shown = shown
        if shown is None and isinstance(problems, ProblemLines) and problems.spilled:
            shown = problems.KEEP
        super().__init__("\n".join(self._said(shown)))

    def _said(self, shown: int | None) -> Iterator[str]:
        yield self.summary
        if shown is None or len(self.problems) <= shown:
            yield from self.problems
            return
        yield from itertools.islice(self.problems, shown)
        more = len(self.problems) - shown
        yield ngettext("… and {n} more problem", "… and {n} more problems", more).format(n=formats.number(more))

    def lines(self) -> Iterator[str]:
        """The summary, then every problem line (read as it goes), or the first `shown`."""
        return self._said(self.shown)


class Row(NamedTuple):
    line: int  # physical line (1-based) where the record starts
    fields: list[str]  # stripped values, one per header column
    keys: tuple[str, ...]  # the table's normalised column names ('' = unnamed)

    @property
    def values(self) -> dict[str, str]:
        """Normalised column name -> stripped value (named columns only)."""
        return {k: v for k, v in zip(self.keys, self.fields, strict=False) if k}


@dataclass(frozen=True)
class BadRow:
    line: int
    message: str  # without the "FILE:LINE: " prefix


@dataclass
class Table:
    path: Path
    header: list[str]  # column names as written in the file
    columns: dict[str, str]  # normalised name -> name as written (named columns only)
    rows: list[Row]  # data rows with as many fields as the header
    bad_rows: list[BadRow] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ","
    header_line: int = 1

    @property
    def name(self) -> str:
        return display_name(self.path)

    def where(self, line: int | None = None) -> str:
        """`FILE` or `FILE:LINE`, the prefix of every message about this file."""
        return f"{self.name}:{line}" if line else self.name


def display_name(path: os.PathLike | str) -> str:
    return infile.label_of(path)


_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def norm(name: str) -> str:
    """The comparison key of a column name: lower case, no accents, letters and digits
    only; `°`/`º`/`#` read as "no", a trailing "(...)" note is dropped when something
    else remains (`Date de naissance (AAAA-MM-JJ)` -> `datedenaissance`)."""
    s = name.replace("°", "o").replace("#", "no")
    stripped = _PAREN.sub(" ", s)
    if stripped.strip():
        s = stripped
    return _NON_ALNUM.sub("", without_accents(s).casefold())


# --- delimiter ----------------------------------------------------------------------


def sniff_delimiter(header: str) -> str:
    """The separator of a header record: the most frequent of `,` `;` tab outside
    quotes (Excel quotes a name holding a separator, so quoted ones do not count).
    A one-column file gets `,`; a tie prefers `;`, then tab, then `,`."""
    counts = dict.fromkeys(DELIMITERS, 0)
    inside = False
    for c in header:
        if c == '"':
            inside = not inside
        elif not inside and c in counts:
            counts[c] += 1
    best = max((";", "\t", ","), key=lambda d: counts[d])
    return best if counts[best] else ","


# --- reading ------------------------------------------------------------------------


def read_table(path: os.PathLike | str, *, name: str | None = None, limit: int = infile.CSV_LIMIT) -> Table:
    """Read a CSV file with a header row. Blank lines (and rows of empty fields) are
    skipped; a row with more or fewer fields than the header is kept out of `rows` and
    listed in `bad_rows` (extra fields that are all empty are tolerated: Excel's
    trailing separators). Raises BadInput (one line naming the file) when the file
    cannot be read, is empty, or its header is unusable. A big file is better read as it
    goes: `TableStream`."""
    path = Path(path)
    label = name or display_name(path)
    # a device, FIFO, folder or oversized file is refused before reading (issue #8)
    raw = infile.read_bytes(path, limit=limit, what=_("a CSV file"), label=label)
    return parse_table(raw, label, path)


def parse_table(raw: bytes, label: str, path: os.PathLike | str | None = None) -> Table:
    """`read_table` of bytes already read (a pasted list): `label` names it in messages."""
    with TableStream.of_bytes(raw, label, path) as stream:
        rows: list[Row] = []
        bad: list[BadRow] = []
        for chunk_rows, chunk_bad in stream.chunks():
            rows.extend(chunk_rows)
            bad.extend(chunk_bad)
        return stream.table(rows, bad)


class _Capped(io.RawIOBase):
    """A file read through, refusing (BadInput) to go past `limit` bytes: a file that
    grows while it is read cannot exhaust memory or time."""

    def __init__(self, fd: int, limit: int, label: str, what: str) -> None:
        self.fd, self.limit, self.label, self.what, self.total = fd, limit, label, what, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = os.readv(self.fd, [b])
        self.total += n
        if self.total > self.limit:
            raise BadInput(
                _("{where}: is over {size}; {what} may be at most {size}").format(
                    where=self.label, size=infile.size_words(self.limit), what=self.what
                )
            )
        return n

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


class TableStream:
    """A CSV file read as it goes, a chunk of rows at a time (a directory of a million
    patients never sits in memory): `with TableStream(path) as s: for rows, bad in
    s.chunks(): ...`. The header, encoding and delimiter are known once it is open;
    rows and bad rows are `read_table`'s."""

    def __init__(self, path: os.PathLike | str, *, name: str | None = None, limit: int = infile.CSV_LIMIT):
        self.path = Path(path)
        self.label = name or display_name(self.path)
        self.limit = limit
        self._raw: _Capped | None = None
        self._text: IO[str]
        self._text_read: str | None = None  # of_bytes: the whole text, already decoded

    @classmethod
    def of_bytes(cls, raw: bytes, label: str, path: os.PathLike | str | None = None) -> TableStream:
        """A table already read (the standard input, a pasted list): decoded at once."""
        stream = cls(path if path is not None else label, name=label, limit=len(raw))
        stream._text_read, stream.encoding = csvencoding.decode(raw, label)
        return stream

    def __enter__(self) -> TableStream:
        if self._text_read is not None:
            self._text = io.StringIO(self._text_read, newline="")
            self._open_header()
            return self
        # a device, FIFO, folder or oversized file is refused before reading (issue #8)
        fd = infile.open_regular(self.path, limit=self.limit, what=_("a CSV file"), label=self.label)
        self._raw = _Capped(fd, self.limit, self.label, _("a CSV file"))
        try:
            self.encoding = csvencoding.of_file(fd, self.label)
            self._text = io.TextIOWrapper(io.BufferedReader(self._raw, 1024 * 1024), encoding=self.encoding, newline="")
            self._open_header()
        except BaseException:
            self._raw.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._raw is not None:
            self._raw.close()

    def _quotes_odd(self) -> bool:
        """Whether the whole file holds an odd number of `"` (read again, in blocks)."""
        if self._text_read is not None:
            return self._text_read.count('"') % 2 == 1
        assert self._raw is not None
        fd, offset, n = self._raw.fd, 0, 0
        if self.encoding == "utf-16":
            return os.pread(fd, self.limit + 1, 0).decode("utf-16", "replace").count('"') % 2 == 1
        while block := os.pread(fd, 4 * infile.MiB, offset):
            n += block.count(b'"')
            offset += len(block)
        return n % 2 == 1

    def _open_header(self) -> None:
        # the delimiter is sniffed from the first non-blank record (quoted line breaks included)
        first: list[str] = []
        self.header_line, quotes = 0, 0
        pending = []
        for n, line in enumerate(self._text, 1):
            pending.append(line)
            if not first and not line.strip():
                continue
            if not first:
                self.header_line = n
            first.append(line)
            quotes += line.count('"')
            if quotes % 2 == 0:
                break
        if not "".join(first).strip():
            raise BadInput(
                _("{where}: the file is empty; expected a header row and data rows").format(where=self.label)
            )
        self.delimiter = sniff_delimiter("".join(first))
        self._reader = csv.reader(
            itertools.chain(pending, self._text),
            delimiter=self.delimiter,
            quotechar='"',
            doublequote=True,
            skipinitialspace=False,
            strict=False,
        )
        self._prev_end = 0
        self.header: list[str] = []
        self.keys: tuple[str, ...] = ()
        try:
            for fields in self._reader:
                start = self._prev_end + 1
                self._prev_end = self._reader.line_num
                if "".join(fields).strip():
                    header, key_list = _header(fields, self.label, start)
                    self.header, self.keys = header, tuple(key_list)
                    break
        except csv.Error as e:  # the header itself past the field limit (a binary file, one huge line)
            raise self._unreadable(e, self._prev_end + 1) from None
        self.columns = {k: h for k, h in zip(self.keys, self.header, strict=False) if k}

    def _unreadable(self, e: csv.Error, line: int) -> BadInput:
        return BadInput(
            _("{where}: unreadable CSV: {error}").format(where=f"{self.label}:{line}", error=_csv_problem(e))
        )

    def chunks(self, size: int = 20_000) -> Iterator[tuple[list[Row], list[BadRow]]]:
        """(rows, bad rows) about `size` records at a time, in the file's order."""
        width, keys, reader, delimiter = len(self.header), self.keys, self._reader, self.delimiter
        rows: list[Row] = []
        bad: list[BadRow] = []
        start = 0
        try:
            for fields in reader:
                start = self._prev_end + 1
                self._prev_end = reader.line_num
                if not "".join(fields).strip():
                    continue
                n = len(fields)
                if n > width and not any(f.strip() for f in fields[width:]):
                    fields = fields[:width]
                    n = width
                if n != width:
                    bad.append(
                        BadRow(
                            start,
                            ngettext(
                                "expected {width} field like the header, got {n} "
                                "(is a {delimiter} or a quote unbalanced?)",
                                "expected {width} fields like the header, got {n} "
                                "(is a {delimiter} or a quote unbalanced?)",
                                width,
                            ).format(width=width, n=n, delimiter=_(DELIMITER_NAMES[delimiter])),
                        )
                    )
                    continue
                rows.append(Row(start, list(map(str.strip, fields)), keys))
                if len(rows) >= size:
                    yield rows, bad
                    rows, bad = [], []
        except csv.Error as e:
            raise self._unreadable(e, reader.line_num) from None
        except UnicodeDecodeError as e:  # the file changed since its encoding was checked
            raise BadInput(
                _("{where}: not {encoding} text any more ({reason})").format(
                    where=self.label, encoding=self.encoding, reason=e.reason
                )
            ) from None
        if rows and rows[-1].line == start and self._prev_end > start and self._quotes_odd():
            # the csv module reads an unclosed quote to the end of the file without a word
            rows.pop()
            bad.append(BadRow(start, _("a quoted field opened on this line is never closed")))
        yield rows, bad

    def table(self, rows: list[Row], bad: list[BadRow]) -> Table:
        return Table(
            path=self.path,
            header=self.header,
            columns=self.columns,
            rows=rows,
            bad_rows=bad,
            encoding=self.encoding,
            delimiter=self.delimiter,
            header_line=self.header_line,
        )


def _header(fields: list[str], label: str, line: int) -> tuple[list[str], list[str]]:
    header = [f.strip() for f in fields]
    while header and not header[-1]:  # trailing separators after the last name
        header.pop()
    keys = [norm(h) for h in header]
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if not k:
            continue
        if k in seen:
            j = seen[k]
            raise BadInput(
                _("{where}: columns {a} {a_name} and {b} {b_name} have the same name; rename or remove one").format(
                    where=f"{label}:{line}",
                    a=j + 1,
                    a_name=quoted_value(header[j]),
                    b=i + 1,
                    b_name=quoted_value(header[i]),
                )
            )
        seen[k] = i
    if not seen:
        raise BadInput(
            _("{where}: the first row has no column names; expected a header row").format(where=f"{label}:{line}")
        )
    return header, keys
