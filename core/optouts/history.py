"""A patient's opt-out rows as staff read them (the recipient detail, `patients show`):
active first, each with when, from where, by whom and its note, and when and by whom it
was undone. Reads only: the rules that record and apply opt-outs are core.optouts.ledger,
which reaches the recipients; this module reaches nothing but the table, so the
recipients' detail can read it without an import circle."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from core.models import OptOut, Patient


@dataclass(frozen=True)
class OptOutRow:
    channel: str
    source: str
    at: datetime
    day: date
    recorded_by: str
    note: str
    active: bool
    cleared_at: datetime | None
    cleared_by: str
    cleared_note: str

    def to_json(self) -> dict:
        return asdict(self)


def for_patient(patient: Patient) -> list[OptOutRow]:
    q = OptOut.select().where(OptOut.patient == patient.id).order_by(OptOut.cleared_at.is_null(False), OptOut.at)
    return [
        OptOutRow(
            o.channel,
            o.source,
            o.at,
            o.day,
            o.recorded_by,
            o.note,
            o.cleared_at is None,
            o.cleared_at,
            o.cleared_by,
            o.cleared_note,
        )  # fmt: skip
        for o in q
    ]
