"""CSV lists of EMR ids (SPEC §4): read, check against the directory, report by line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core import emr, formats, textcheck
from core.context import Ctx
from core.enums import Permission
from core.errors import BadInput
from core.i18n import _, ngettext
from core.recipients.assign import LIMIT, assign_ids
from core.recipients.lookup import known_keys
from core.recipients.results import AssignResult
from core.textcheck import quoted_value

PASTE_LIMIT = LIMIT  # lines of a list pasted in the TUI (SPEC §13): what one assign adds at most
LISTED = 20  # lines of a list's problems said before "… and N more"

# normalised (core.csvio.norm) names of a column holding EMR ids
ID_COLUMNS = (
    "emrid",
    "emr",
    "patientid",
    "id",
    "nodossier",
    "nodedossier",
    "numerodedossier",
    "numerodossier",
    "dossier",
    "chart",
    "chartnumber",
    "mrn",
    "idpatient",
    "noemr",
)


@dataclass
class IdListReport:
    path: str
    column: str  # the header of the ids' column as written; "" for a list without one (every line an id)
    ids: list[str] = field(default_factory=list)  # unique (by key), in file order, as written
    lines: dict[str, int] = field(default_factory=dict)  # id -> first line
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (line, id)
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # (line, id, first line)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    known: set[str] = field(default_factory=set)  # the keys found in the directory

    @property
    def found(self) -> list[str]:
        unknown = {i for _, i in self.unknown}
        return [i for i in self.ids if i not in unknown]

    def unknown_lines(self) -> list[str]:
        """`FILE:LINE: unknown EMR id '9999'`, one an id not in the directory, in line order."""
        return [
            _("{path}:{line}: unknown EMR id {id}").format(path=self.path, line=ln, id=quoted_value(i))
            for ln, i in sorted(self.unknown)
        ]

    def duplicate_lines(self) -> list[str]:
        return [
            _("{path}:{line}: duplicate of line {first} ({id})").format(
                path=self.path, line=ln, first=first, id=quoted_value(i)
            )
            for ln, i, first in self.duplicates
        ]

    def bad_line_problems(self) -> list[str]:
        """`FILE:LINE: why`, one a bad line, in line order."""
        return [f"{self.path}:{ln}: {why}" for ln, why in sorted(self.bad_lines)]

    def problems(self) -> list[str]:
        return self.unknown_lines() + self.duplicate_lines() + self.bad_line_problems()


def read_id_list(ctx: Ctx, path: str | Path) -> IdListReport:
    """Read a CSV of EMR ids and check it against the directory; changes nothing."""
    from core import csvio, infile

    ctx.require(Permission.CAMPAIGNS)
    return _report(csvio.read_table(path, limit=infile.ID_LIST_LIMIT), csvio.display_name(path))


def read_pasted(ctx: Ctx, text: str) -> IdListReport:
    """A list pasted in the TUI (a column copied from a spreadsheet, with or without its
    header; terminals send it as a bracketed paste), read like a CSV file of EMR ids:
    the same report, checked against the directory, changing nothing. At most
    PASTE_LIMIT ids (a header aside); a longer list travels as a file."""
    from core import csvio

    ctx.require(Permission.CAMPAIGNS)
    label = _("pasted list")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadInput(_("{label}: empty; paste a column of EMR ids").format(label=label))
    # the column's name, copied with it, is no id: 5,000 ids and their header are one assign
    first = lines[0].split(csvio.sniff_delimiter(lines[0]))
    n = len(lines) - any(csvio.norm(f.strip().strip('"')) in ID_COLUMNS for f in first)
    if n > PASTE_LIMIT:
        raise BadInput(
            _("{label}: {n} lines; a pasted list holds at most {limit} (send a longer one as a CSV file)").format(
                label=label, n=formats.number(n), limit=formats.number(PASTE_LIMIT)
            )
        )
    return _report(csvio.parse_table(text.encode("utf-8"), label), label)


def _report(table, label: str) -> IdListReport:
    from core import csvio

    path = label
    norm = [csvio.norm(h) for h in table.header]
    column = next((h for h in norm if h in ID_COLUMNS), None)
    rows = [(r.line, r.values) for r in table.rows]
    header = table.header[norm.index(column)].strip() if column is not None else ""  # as the file writes it
    if column is None:
        if len(norm) != 1:
            raise BadInput(
                _(
                    "{path}:1: no EMR id column: expected a column named like emr_id, patient_id, "
                    "id or no dossier (found {columns})"
                ).format(path=path, columns=", ".join(table.header))
            )
        column = norm[0]
        # a single column without a recognised header: the first line is an id too
        rows.insert(0, (table.header_line, {column: table.header[0]}))
    elif not rows and not table.bad_rows:  # the words of `patients import` for its header-only file
        raise BadInput(
            _(
                "{where}: only a header row, no EMR ids; nothing assigned "
                "(expected one EMR id per line after the header)"
            ).format(where=f"{path}:{table.header_line}")
        )
    report = IdListReport(path=label, column=header)  # not "column 100001"
    for bad in table.bad_rows:
        report.bad_lines.append((bad.line, bad.message))
    first_line: dict[str, tuple[int, str]] = {}  # key -> (line, id as written there)
    for line, values in rows:
        value = (values.get(column) or "").strip()
        key = emr.key(value)
        if not key:
            report.bad_lines.append((line, _("no EMR id on this line")))
        elif (c := textcheck.first_control(value, textcheck.LINE_BREAKING)) is not None:
            report.bad_lines.append(
                (line, _("the EMR id holds {what}; expected one line of text").format(what=textcheck.describe(c)))
            )
        elif key in first_line:
            report.duplicates.append((line, value, first_line[key][0]))
        else:
            first_line[key] = (line, value)
            report.lines[value] = line
            report.ids.append(value)
    known = known_keys(list(first_line))
    report.unknown = [(ln, value) for key, (ln, value) in first_line.items() if key not in known]
    report.known = known
    return report


def assign_csv(ctx: Ctx, campaign_id: int | str, path: str | Path) -> AssignResult:
    """Read the list and assign the known ids; bad lines refuse the whole file."""
    from core.csvio import FileProblems

    report = read_id_list(ctx, path)
    path = report.path
    if report.bad_lines:
        n = len(report.bad_lines)
        said = ngettext("{path}: {n} bad line, nothing assigned", "{path}: {n} bad lines, nothing assigned", n)
        raise FileProblems(said.format(path=path, n=formats.number(n)), report.bad_line_problems(), shown=LISTED)
    if not report.found:
        raise BadInput(
            ngettext(
                "{path}: the EMR id is not in the patient directory; nothing assigned",
                "{path}: none of the {n} EMR ids is in the patient directory; nothing assigned",
                len(report.ids),
            ).format(path=path, n=formats.number(len(report.ids)))
        )
    result = assign_ids(ctx, campaign_id, report.ids, known=report.known)
    result.duplicates = report.duplicate_lines()
    result.not_found_lines = report.unknown_lines()
    return result
