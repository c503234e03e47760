"""One recipient, everything staff may need to answer a patient's call (issue #18): each
field, the full reason, the attempts, the last error, the next attempt, and the history
of every delivery written for them (email, push, feed publish/unpublish, re-invites)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.campaigns import get
from core.context import Ctx
from core.enums import DeliveryKind, Permission, RecipientStatus
from core.errors import NotFound
from core.i18n import _
from core.models import Delivery, Invitation, Patient, Recipient
from core.optouts.history import OptOutRow, for_patient
from core.reasons import describe
from core.recipients.results import shown_status
from core.rules import Stage, detail_case, reason_case


@dataclass(frozen=True)
class DeliveryLine:
    kind: str  # email / push / publish / unpublish ...
    status: str  # pending / sending / sent / failed / cancelled ...
    created_at: datetime
    due_at: datetime | None
    attempts: int
    handed_at: datetime | None
    sent_at: datetime | None
    error: str  # the reason in words, with the server's message ("" when none)


@dataclass(frozen=True)
class RecipientDetail:
    emr_id: str
    name: str
    language: str
    email: str
    app_id: str
    status: str
    reason_code: str
    reason: str  # in words, in full
    added_at: datetime
    added_by: str
    queued_at: datetime | None
    sent_at: datetime | None
    next_attempt_at: datetime | None
    removed_at: datetime | None
    in_feed: bool
    attempts: int  # hand-overs of the email or push, every delivery together
    last_error: str  # the latest delivery's error in words ("" when none)
    invitation_expires_at: datetime | None = None
    joined_at: datetime | None = None
    deliveries: list[DeliveryLine] = field(default_factory=list)
    first_copy_at: datetime | None = None  # maybe_twice: an earlier copy of unknown outcome went then
    # assigned, and a consent rule forbids them now: the reason the next start will skip
    # them with ("" none); `reason` then says it (as the ledger's row, RecipientRow)
    will_skip_code: str = ""
    # the patient's opt-outs, undone ones too, each with its moment: a patient who calls
    # « I had opted out » is answered by setting them beside `sent_at`
    opt_outs: list[OptOutRow] = field(default_factory=list)

    @property
    def shown_status(self) -> str:
        """The status as the ledger shows it (core.recipients.results.shown_status)."""
        return shown_status(self.status, self.reason_code, self.will_skip_code)


def detail(ctx: Ctx, campaign_id: int | str, recipient_id: int, language: str | None = None) -> RecipientDetail:
    """The recipient `recipient_id` of the campaign, with their deliveries oldest first.
    It shows a patient's data: audited as a read (core.audit.read)."""
    from core.audit.read import record_read

    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    r = (
        Recipient.select(Recipient, Patient)
        .join(Patient)
        .where(Recipient.campaign == c, Recipient.id == recipient_id)
        .first()
    )
    if r is None:
        raise NotFound(_("campaign {id} has no recipient {recipient}").format(id=c.id, recipient=recipient_id))
    p = r.patient
    lines = []
    attempts, last_error = 0, ""
    for d in Delivery.select().where(Delivery.recipient == r).order_by(Delivery.created_at, Delivery.id):
        error = describe(d.error_code, d.last_error, language) if (d.error_code or d.last_error) else ""
        lines.append(DeliveryLine(d.kind, d.status, d.created_at, d.due_at, d.attempts, d.handed_at, d.sent_at, error))
        if d.kind in (DeliveryKind.EMAIL, DeliveryKind.PUSH):
            attempts += d.attempts
        if error:
            last_error = error
    inv = Invitation.select().where(Invitation.recipient == r).order_by(Invitation.id.desc()).first()
    will_skip, will_skip_detail = _will_skip(c.kind, r)
    if will_skip:
        reason = describe(will_skip, will_skip_detail, language)
    elif r.reason_code or r.reason:
        reason = describe(r.reason_code, r.reason, language, _times(ctx, r))
    else:
        reason = ""
    record_read(ctx, "patient_show", c.id, coalesce=1, emr_id=p.emr_id)
    return RecipientDetail(
        emr_id=p.emr_id,
        name=f"{p.first_name} {p.last_name}".strip(),
        language=p.language,
        email=p.email,
        app_id=p.app_id or "",
        status=r.status,
        reason_code=r.reason_code,
        reason=reason,
        added_at=r.added_at,
        added_by=r.added_by,
        queued_at=r.queued_at,
        sent_at=r.sent_at,
        next_attempt_at=r.next_attempt_at,
        removed_at=r.removed_at,
        in_feed=r.in_feed,
        attempts=attempts,
        last_error=last_error,
        invitation_expires_at=inv.expires_at if inv else None,
        joined_at=inv.joined_at if inv else None,
        deliveries=lines,
        first_copy_at=r.first_copy_at,
        will_skip_code=will_skip,
        opt_outs=for_patient(p),
    )


def _will_skip(kind: str, r: Recipient) -> tuple[str, str]:
    """An assigned recipient a consent rule forbids now: the reason and detail the next
    start will skip them with (core.rules, as the ledger's page reads them); else ("", "")."""
    if r.status != RecipientStatus.ASSIGNED:
        return "", ""
    row = (
        Patient.select(reason_case(kind, Stage.SEND), detail_case(kind, Stage.SEND))
        .where(Patient.id == r.patient_id)
        .tuples()
        .first()
    )
    return (row[0] or "", row[1] or "") if row else ("", "")


def _times(ctx: Ctx, r: Recipient) -> dict[str, str] | None:
    """The times a maybe_twice reason names, in the clinic's time of day: when the first
    copy (its answer never came) and the second went."""
    if r.first_copy_at is None or r.sent_at is None:
        return None
    from core.channel_health import local_time

    now = ctx.now()
    return {"first": local_time(r.first_copy_at, ctx.config, now), "sent": local_time(r.sent_at, ctx.config, now)}
