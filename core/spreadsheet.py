"""The CSV clinicast gives out — a campaign's ledger (core.exports), the audit trail
(core.audit.read) — written the way staff open it: in Excel on a French Windows. Every
CSV written for people goes through `csv_text`. Reading the clinics' own CSV files is
core.csvio's (it reads back `,` and `;` alike)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config.types import Config

BOM = "\ufeff"


def csv_text(config: Config, header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """CSV for a spreadsheet: cells separated by the config's `[exports] csv_separator`
    ("," by default; ";" for Excel on a French (Canada) Windows, whose list separator it
    is, "," being its decimal mark: with "," it showed each row in one column), a BOM
    first (without it, Excel on a French Windows reads UTF-8 as Windows-1252: « PrÃ©nom »;
    clinicast's own imports and Python's `utf-8-sig` skip it), never a `sep=` line (Excel
    then drops the BOM, and the accents with it), CRLF lines, and no cell a spreadsheet
    would run as a formula (a patient's name is data, not code: `=HYPERLINK(…)` is shown
    with a leading apostrophe)."""
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf, delimiter=config.exports.csv_separator, lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_inert(str(cell)) for cell in row])
    return buf.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
