"""The add-patients dialog's words built from core's results: why the conditions added
nobody, the confirmation before adding by a value no patient has, the CSV report."""

from __future__ import annotations

from rich.text import Text

from core import recipients
from core.i18n import _, ngettext
from core.textcheck import quoted_value
from tui import format as fmt
from tui.screens.modals import ConfirmModal


def nothing_to_add(preview: recipients.AssignPreview | None) -> str:
    """Why ^o on the condition rows adds nobody: a row not filled in or wrong (None), no
    patient matching (a value no patient has is said at its row), or too many."""
    if preview is None:
        return _("Nothing was added: complete or correct every row first.")
    if preview.matched == 0:
        return _("Nothing was added: no patient matches these conditions.")
    return _("Nothing was added: more than {limit} patients match; add a condition to narrow it.").format(
        limit=fmt.num(recipients.LIMIT)
    )


def unknown_confirm(preview: recipients.AssignPreview) -> ConfirmModal:
    """Before an assign whose conditions name a value no patient has: core's warning (with
    the closest values) and what the assign would do; enter keeps the dialog to correct it."""

    def said() -> str:
        n = preview.added
        return "\n".join(
            [
                *(u.words() for u in preview.unknown),
                "",
                _("With these conditions: {preview}.").format(preview=preview.line()),
                ngettext("Add this patient anyway?", "Add these {n} patients anyway?", n).format(n=fmt.num(n)),
            ]
        )

    return ConfirmModal(
        lambda: _("A value no patient has"),
        said,
        yes=lambda: _("Add anyway"),
        no=lambda: _("Correct it"),
        danger=True,
        no_first=True,
    )


def _listed(items: list[str], limit: int = 4) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    more = len(items) - limit
    return ngettext("{items}, … {n} more", "{items}, … {n} more", more).format(
        items=", ".join(items[:limit]), n=fmt.num(more)
    )


def csv_report_text(report: recipients.IdListReport) -> Text:
    t = Text()
    n = len(report.found)
    t.append(
        ngettext("{n} patient found", "{n} patients found", n).format(n=fmt.num(n)), style="bold green" if n else "bold"
    )
    if report.column:
        t.append(" " + _("(column {column}) — nothing is added until you press Assign").format(column=report.column))
    else:  # a list without a header: every line an id
        t.append(" " + _("(every line an id) — nothing is added until you press Assign"))
    t.append("\n")
    if report.unknown:
        n = len(report.unknown)
        t.append(ngettext("{n} unknown id: ", "{n} unknown ids: ", n).format(n=fmt.num(n)), style="bold yellow")
        t.append(
            _listed([_("line {line} {id}").format(line=ln, id=quoted_value(i)) for ln, i in report.unknown]) + "\n"
        )
    if report.duplicates:
        n = len(report.duplicates)
        t.append(ngettext("{n} duplicate: ", "{n} duplicates: ", n).format(n=fmt.num(n)), style="bold yellow")
        t.append(
            _listed(
                [
                    _("line {line} (as line {first})").format(line=ln, first=first)
                    for ln, _id, first in report.duplicates
                ]
            )
            + "\n"
        )
    if report.bad_lines:
        n = len(report.bad_lines)
        t.append(ngettext("{n} bad line: ", "{n} bad lines: ", n).format(n=fmt.num(n)), style="bold red")
        t.append(_listed([_("line {line}: {why}").format(line=ln, why=why) for ln, why in report.bad_lines], 2) + "\n")
    t.rstrip()
    return t
