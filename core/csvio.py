"""Reading the CSV files clinics really export (SPEC §4, §9).

EMR and spreadsheet exports come as UTF-8 with or without a BOM, or Windows-1252
(Excel's "CSV" on a French Windows), separated by `,` `;` or tab, with Excel quoting
(fields holding the separator, quotes or line breaks). `read_table` decodes and splits
such a file and keeps, for every record, the physical line where it starts, so every
problem can be reported as `FILE:LINE: ...`.

Header names are compared through `norm()`: case, accents, spaces, underscores and
punctuation do not matter (`N° dossier`, `no_dossier` and `No Dossier` are one name).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from core import infile
from core.errors import BadInput

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class FileProblems(BadInput):
    """A file refused with every problem found: `str()` is a summary line, then one
    `FILE:LINE: ...` line per problem; `.problems` holds those lines."""

    def __init__(self, summary: str, problems: list[str]):
        self.summary = summary
        self.problems = problems
        super().__init__("\n".join([summary, *problems]))


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
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold()
    return _NON_ALNUM.sub("", s)


def fold(text: str) -> str:
    """Lower case without accents, for values (`Français` -> `francais`)."""
    if text.isascii():
        return text.lower().strip()
    s = unicodedata.normalize("NFKD", text)
    return "".join(c for c in s if not unicodedata.combining(c)).casefold().strip()


# --- decoding -----------------------------------------------------------------------


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """(text, encoding): UTF-8 (BOM or not), UTF-16 with a BOM (Excel "Unicode text"),
    else Windows-1252. Raises BadInput for what is none of these (binary files)."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise BadInput(
                f"{name}:{_line_of(raw, e.start + 3)}: starts with a UTF-8 mark but is "
                f"not valid UTF-8 (byte 0x{raw[e.start + 3]:02x})"
            ) from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise BadInput(f"{name}: starts with a UTF-16 mark but is not valid UTF-16") from None
    nul = raw.find(b"\x00", 0, 4096)
    if nul >= 0:
        raise BadInput(
            f"{name}:{_line_of(raw, nul)}: not a text file (a NUL byte, U+0000, on this line); "
            "expected a CSV in UTF-8 or Windows-1252"
        )
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    _one_encoding(raw, name)
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as e:
        raise BadInput(
            f"{name}:{_line_of(raw, e.start)}: neither UTF-8 nor Windows-1252 text (byte 0x{raw[e.start]:02x})"
        ) from None


def _one_encoding(raw: bytes, name: str) -> None:
    """BadInput when a file that is not UTF-8 throughout has lines that are: a file
    pasted together from a UTF-8 and a Windows-1252 export would import as "HÃ©lÃ¨ne".
    Names the first line whose encoding differs from the first non-ASCII line's."""
    first: tuple[int, bool] | None = None  # (line, is UTF-8) of the first non-ASCII line
    for n, line in enumerate(raw.split(b"\n"), 1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        if first is None:
            first = (n, utf8)
        elif utf8 != first[1]:
            this, that = ("UTF-8", "Windows-1252") if utf8 else ("Windows-1252", "UTF-8")
            raise BadInput(
                f"{name}:{n}: written in {this} while line {first[0]} is {that}; a file must use one "
                "encoding throughout (open it in a spreadsheet and save it again as CSV UTF-8)"
            )


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


# --- delimiter ----------------------------------------------------------------------


def _first_record(text: str) -> tuple[int, str]:
    """(line number, text) of the first non-blank record, quoted line breaks included."""
    lines = io.StringIO(text, newline="")
    start = 0
    buf: list[str] = []
    quotes = 0
    for n, line in enumerate(lines, 1):
        if not buf and not line.strip():
            continue
        if not buf:
            start = n
        buf.append(line)
        quotes += line.count('"')
        if quotes % 2 == 0:
            break
    return start, "".join(buf)


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
    cannot be read, is empty, or its header is unusable."""
    path = Path(path)
    label = name or display_name(path)
    # a device, FIFO, folder or oversized file is refused before reading (issue #8)
    raw = infile.read_bytes(path, limit=limit, what="a CSV file", label=label)
    return parse_table(raw, label, path)


def parse_table(raw: bytes, label: str, path: os.PathLike | str | None = None) -> Table:
    """`read_table` of bytes already read (a pasted list): `label` names it in messages."""
    path = Path(path if path is not None else label)
    text, encoding = decode(raw, label)
    header_line, first = _first_record(text)
    if not first.strip():
        raise BadInput(f"{label}: the file is empty; expected a header row and data rows")
    delimiter = sniff_delimiter(first)

    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        skipinitialspace=False,
        strict=False,
    )
    header: list[str] | None = None
    keys: tuple[str, ...] = ()
    rows: list[Row] = []
    bad: list[BadRow] = []
    width = 0
    prev_end = 0
    start = 0
    try:
        for fields in reader:
            start = prev_end + 1
            prev_end = reader.line_num
            if not "".join(fields).strip():
                continue
            if header is None:
                header, key_list = _header(fields, label, start)
                keys = tuple(key_list)
                width = len(header)
                continue
            n = len(fields)
            if n > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]
                n = width
            if n != width:
                bad.append(
                    BadRow(
                        start,
                        f"expected {width} fields like the header, got {n} "
                        f"(is a {DELIMITER_NAMES[delimiter]} or a quote unbalanced?)",
                    )
                )
                continue
            rows.append(Row(start, list(map(str.strip, fields)), keys))
    except csv.Error as e:
        raise BadInput(f"{label}:{reader.line_num}: unreadable CSV: {e}") from None
    if header is None:  # pragma: no cover - _first_record found something non-blank
        raise BadInput(f"{label}: the file is empty; expected a header row and data rows")
    if rows and rows[-1].line == start and prev_end > start and text.count('"') % 2:
        # the csv module reads an unclosed quote to the end of the file without a word
        rows.pop()
        bad.append(BadRow(start, "a quoted field opened on this line is never closed"))
    columns = {k: h for k, h in zip(keys, header, strict=False) if k}
    return Table(
        path=path,
        header=header,
        columns=columns,
        rows=rows,
        bad_rows=bad,
        encoding=encoding,
        delimiter=delimiter,
        header_line=header_line,
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
                f"{label}:{line}: columns {j + 1} {header[j]!r} and {i + 1} {header[i]!r} "
                "have the same name; rename or remove one"
            )
        seen[k] = i
    if not seen:
        raise BadInput(f"{label}:{line}: the first row has no column names; expected a header row")
    return header, keys
