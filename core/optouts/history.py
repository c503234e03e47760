"""A patient's opt-out rows as staff read them (the recipient detail, `patients show`, the
TUI's opt-out dialog, which shows the active ones): active first, each with when, from
where, by whom and its note, and when and by whom it was undone. Reads only: the rules
that record and apply opt-outs are core.optouts.ledger, which reaches the recipients;
this module reaches nothing but the table (and the audit trail, for `active`'s read), so
the recipients' detail can read it without an import circle."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from core import emr
from core.context import Ctx
from core.enums import OptOutSource, Permission
from core.i18n import _
from core.models import OptOut, Patient
from core.reasons import opt_out_source
from core.words import word


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

    def origin(self) -> str:
        """Where the opt-out came from and who recorded it, as staff read it beside its moment
        (the recipient detail, `patients show`, the opt-out dialog): « recorded by mlaval »,
        « unsubscribe link », « in the app » — « staff by mlaval » read as a list of two. The
        link's and the app's come through the feed, whose login ("gateway") says nothing more."""
        if self.source == OptOutSource.STAFF and self.recorded_by:
            return _("recorded by {login}").format(login=self.recorded_by)
        if self.source in {s.value for s in OptOutSource}:
            return opt_out_source(self.source)  # as a skip reason says it (core.reasons)
        # a source this version does not know: as it is, and who
        return _("{source} by {login}").format(source=word("source", self.source), login=self.recorded_by)


def for_patient(patient: Patient) -> list[OptOutRow]:
    return _rows(OptOut.select().where(OptOut.patient == patient.id))


def active(ctx: Ctx, emr_id: str) -> list[OptOutRow]:
    """The patient's opt-outs in force, oldest first (none for an unknown EMR id): what a
    receptionist recording another one sees first — « email » already out, by whom, when.
    A read of patient data (their notes), audited as the recipient detail's is: one row a
    minute at most for the same patient (core.audit.read.record_read)."""
    from core.audit.read import record_read

    ctx.require(Permission.CAMPAIGNS)
    patient = Patient.get_or_none(Patient.emr_key == emr.key(emr_id))
    if patient is None:
        return []
    record_read(ctx, "patient_show", coalesce=1, emr_id=patient.emr_id)
    return _rows(OptOut.select().where(OptOut.patient == patient.id, OptOut.cleared_at.is_null(True)))


def _rows(q) -> list[OptOutRow]:
    q = q.order_by(OptOut.cleared_at.is_null(False), OptOut.at)
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
