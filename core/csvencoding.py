"""Which encoding a CSV file is in, decided once for a file read as it goes and for bytes
already read (SPEC §4): UTF-8 with or without a BOM, UTF-16 with a BOM (Excel "Unicode
text"), else Windows-1252 (Excel's "CSV" on a French Windows). A binary file, a file
that is none of these, or one pasted together from two encodings is refused (BadInput)
with the line to look at.

The bytes are read in blocks through `read_at(offset, size)`, no more than a block in
memory: `os.pread` on a file (`of_file`), a slice of bytes already read (`decode`).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterable, Iterator

from core import infile
from core.errors import BadInput
from core.i18n import _

BLOCK = 4 * infile.MiB
ReadAt = Callable[[int, int], bytes]  # (offset, size) -> at most size bytes; b"" at the end


def of_file(fd: int, label: str) -> str:
    """The encoding of the open file `fd`, read through once in blocks."""
    return detect(lambda offset, size: os.pread(fd, size, offset), label)


def decode(raw: bytes, label: str) -> tuple[str, str]:
    """(text, encoding) of bytes already read (the standard input, a pasted list)."""
    encoding = detect(lambda offset, size: raw[offset : offset + size], label)
    return raw.decode(encoding), encoding


def detect(read_at: ReadAt, label: str) -> str:
    """UTF-8 (BOM or not: "utf-8-sig", "utf-8"), UTF-16 with a BOM ("utf-16"), else
    Windows-1252 ("cp1252"); BadInput for a binary file or one that is none of these.
    `label` names the file in messages."""
    head = read_at(0, 4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if _first_error(read_at, "utf-16", 0) is not None:
            raise BadInput(_("{where}: starts with a UTF-16 mark but is not valid UTF-16").format(where=label))
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        error = _first_error(read_at, "utf-8", 3)
        if error is not None:
            line, byte = error
            raise BadInput(
                _("{where}: starts with a UTF-8 mark but is not valid UTF-8 (byte 0x{byte:02x})").format(
                    where=f"{label}:{line}", byte=byte
                )
            )
        return "utf-8-sig"
    nul = head.find(b"\x00")
    if nul >= 0:
        raise BadInput(
            _(
                "{where}: not a text file (a NUL byte, U+0000, on this line); expected a CSV in UTF-8 or Windows-1252"
            ).format(where=f"{label}:{_line_of(head, nul)}")
        )
    if _first_error(read_at, "utf-8", 0) is None:
        return "utf-8"
    _one_encoding(_lines_of(read_at), label)
    offset, lines = 0, 0
    while block := read_at(offset, BLOCK):
        try:
            block.decode("cp1252")
        except UnicodeDecodeError as e:
            raise BadInput(
                _("{where}: neither UTF-8 nor Windows-1252 text (byte 0x{byte:02x})").format(
                    where=f"{label}:{lines + _line_of(block, e.start)}", byte=block[e.start]
                )
            ) from None
        lines += block.count(b"\n")
        offset += len(block)
    return "cp1252"


def _first_error(read_at: ReadAt, encoding: str, start: int) -> tuple[int, int] | None:
    """(line, byte) of the first byte from `start` that is not `encoding`, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = start, 0
    while True:
        block = read_at(offset, BLOCK)
        pending = decoder.getstate()[0]  # a character cut by the last block: no line break in it
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as e:
            seen = pending + block
            return lines + _line_of(seen, e.start), seen[e.start]
        if not block:
            return None
        lines += block.count(b"\n")
        offset += len(block)


def _one_encoding(lines: Iterable[bytes], name: str) -> None:
    """BadInput when a file that is not UTF-8 throughout has lines that are: a file
    pasted together from a UTF-8 and a Windows-1252 export would import as "HÃ©lÃ¨ne".
    Names the first line whose encoding differs from the first non-ASCII line's."""
    first: tuple[int, bool] | None = None  # (line, is UTF-8) of the first non-ASCII line
    for n, line in enumerate(lines, 1):
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
                _(
                    "{where}: written in {this} while line {first} is {that}; a file must use one "
                    "encoding throughout (open it in a spreadsheet and save it again as CSV UTF-8)"
                ).format(where=f"{name}:{n}", this=this, first=first[0], that=that)
            )


def _lines_of(read_at: ReadAt) -> Iterator[bytes]:
    """The lines (without their `\\n`), read in blocks."""
    offset, rest = 0, b""
    while block := read_at(offset, BLOCK):
        offset += len(block)
        *whole, rest = (rest + block).split(b"\n")
        yield from whole
    yield rest


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1
