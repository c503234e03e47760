"""One patient as staff see them (`clinicast patients show`): the directory record, the
opt-outs with their source, and every campaign they were assigned to with its status.
Showing a patient is a read of patient data: audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from core.audit.read import record_read
from core.context import Ctx
from core.enums import Permission
from core.models import Campaign, Patient, Recipient
from core.optouts import history
from core.patients.lookup import get_by_emr
from core.reasons import describe

RECORD_FIELDS = (
    "emr_id", "first_name", "last_name", "date_of_birth", "sex", "language", "email", "phone", "app_id",
    "marketing_consent", "push_enabled", "do_not_contact", "practitioner", "postal_code", "last_visit",
)  # fmt: skip


@dataclass(frozen=True)
class CampaignLine:
    id: int
    name: str
    kind: str
    status: str
    reason_code: str
    reason_detail: str
    added_at: datetime
    sent_at: datetime | None

    def reason(self, language: str | None = None) -> str:
        return describe(self.reason_code, self.reason_detail, language) if self.reason_code else ""

    def to_json(self) -> dict:
        out = asdict(self)
        del out["reason_detail"]
        out["reason_text"] = self.reason("en")  # English words (--json keeps the spec's English)
        return out


@dataclass(frozen=True)
class PatientView:
    record: dict
    opt_outs: list[history.OptOutRow] = field(default_factory=list)
    campaigns: list[CampaignLine] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "record": self.record,
            "opt_outs": [o.to_json() for o in self.opt_outs],
            "campaigns": [c.to_json() for c in self.campaigns],
        }


def show(ctx: Ctx, emr_id: str) -> PatientView:
    ctx.require(Permission.CAMPAIGNS)
    p = get_by_emr(emr_id)
    record = {f: _plain(getattr(p, f)) for f in RECORD_FIELDS}
    q = (
        Recipient.select(
            Campaign.id,
            Campaign.name,
            Campaign.kind,
            Recipient.status,
            Recipient.reason_code,
            Recipient.reason,
            Recipient.added_at,
            Recipient.sent_at,
        )  # fmt: skip
        .join(Campaign)
        .where(Recipient.patient == p.id)
        .order_by(Recipient.added_at, Recipient.id)
        .tuples()
    )
    lines = [
        CampaignLine(cid, name, kind, status, code or "", detail or "", added, sent)
        for cid, name, kind, status, code, detail, added, sent in q
    ]
    view = PatientView(record, history.for_patient(p), lines)
    record_read(ctx, "patient_show", emr_id=p.emr_id)
    return view


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


__all__ = ["CampaignLine", "PatientView", "Patient", "show"]
