"""The opt-out ledger (SPEC §10): clinicast's own record of who asked not to be
contacted, on which channel, since when, from where and who wrote it down.

- `record` writes an opt-out (a staff member's, with a note; the opt-out feed uses
  `apply` directly) and, in the same transaction, cancels that patient's deliveries
  still waiting on the channel: their recipients are `skipped` with the opt-out's
  reason, exactly as a start or a send-time check would have said.
- `clear` undoes one (admin only, with a note); the feed clears only `app`-sourced
  ones (a patient turning a setting back on in the app never undoes what they asked
  by the link or at the desk).
- `for_patient` lists a patient's opt-outs, active first.
- `KeptByImport` counts the rows of a directory import that said "yes, contact them"
  for a patient who opted out: the import keeps them opted out and says how many.

Every change is audited in its own transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

import peewee as pw

from core import audit, formats
from core.context import Ctx
from core.db import write_transaction
from core.delivery.store import cancel_returning_recipients
from core.enums import RECIPIENT_WAITING, DeliveryKind, OptOutChannel, OptOutSource, Permission, RecipientStatus
from core.errors import BadInput
from core.i18n import _, ngettext
from core.models import Campaign, Delivery, OptOut, Patient, Recipient
from core.patients.lookup import get_by_emr
from core.reasons import Reason, opt_out_detail
from core.textcheck import quoted_value

# what each opt-out stops: the delivery kinds cancelled, and the reason their recipients get
_KINDS: dict[OptOutChannel, tuple[DeliveryKind, ...]] = {
    OptOutChannel.EMAIL: (DeliveryKind.EMAIL,),
    # no feed: no publish, and no push pointing at a message they will not see
    OptOutChannel.FEED: (DeliveryKind.PUBLISH, DeliveryKind.PUSH),
    OptOutChannel.PUSH: (DeliveryKind.PUSH,),
    OptOutChannel.ALL: (DeliveryKind.EMAIL, DeliveryKind.PUBLISH, DeliveryKind.PUSH),
}
NOTE_MAX = 500


def channel_of(value: str) -> OptOutChannel:
    try:
        return OptOutChannel(value.strip().lower())
    except ValueError:
        raise BadInput(
            _("unknown channel {value}; expected one of {choices}").format(
                value=quoted_value(value), choices=", ".join(OptOutChannel)
            )
        ) from None


def _note(note: str | None, opt_in: bool) -> str:
    text = " ".join((note or "").split())
    if not text:
        if opt_in:
            raise BadInput(_("an opt-in needs a note saying why (--note TEXT)"))
        raise BadInput(_("an opt-out recorded by staff needs a note saying why (--note TEXT)"))
    if len(text) > NOTE_MAX:
        raise BadInput(
            _("the note is {n} characters; at most {max}").format(
                n=formats.number(len(text)), max=formats.number(NOTE_MAX)
            )
        )
    return text


def clinic_day(ctx: Ctx, at: datetime) -> date:
    return at.replace(tzinfo=UTC).astimezone(ctx.config.clinic.tz).date()


def active(patient_id: int, channel: OptOutChannel | None = None) -> pw.ModelSelect:
    q = OptOut.select().where(OptOut.patient == patient_id, OptOut.cleared_at.is_null(True))
    return q if channel is None else q.where(OptOut.channel == channel)


# --- writing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    emr_id: str
    channel: str
    source: str
    day: date
    new: bool  # False: an active opt-out of that channel was already on file
    cancelled: int  # deliveries that will not go

    def to_json(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """What was done, in words (the CLI prints them, the TUI's notice shows them)."""
        from core.words import word

        channel = word("channel", self.channel)
        if self.new:
            out = [
                _("{emr_id}: opted out of {channel} on {day} (recorded by staff)").format(
                    emr_id=self.emr_id, channel=channel, day=formats.day(self.day)
                )
            ]
        else:
            out = [_("{emr_id}: already opted out of {channel}").format(emr_id=self.emr_id, channel=channel)]
        if self.cancelled:
            out.append(
                ngettext("{n} waiting delivery cancelled", "{n} waiting deliveries cancelled", self.cancelled).format(
                    n=formats.number(self.cancelled)
                )
            )
        return out


def record(ctx: Ctx, emr_id: str, channel: str, note: str) -> Recorded:
    """A staff member writes down an opt-out the patient asked for (by phone, at the desk)."""
    ctx.require(Permission.CAMPAIGNS)
    ch = channel_of(channel)
    text = _note(note, opt_in=False)
    with write_transaction():
        p = get_by_emr(emr_id)
        now = ctx.now()
        row, cancelled = apply(ctx, p.id, ch, OptOutSource.STAFF, now, note=text)
        audit.record(
            ctx, "opt_out", emr_id=p.emr_id, channel=ch, source=OptOutSource.STAFF, note=text, cancelled=cancelled,
            already=row is None,
        )  # fmt: skip
    return Recorded(p.emr_id, ch, OptOutSource.STAFF, clinic_day(ctx, now), row is not None, cancelled)


def apply(
    ctx: Ctx,
    patient_id: int,
    channel: OptOutChannel,
    source: OptOutSource,
    at: datetime,
    *,
    note: str = "",
    origin_key: str | None = None,
) -> tuple[OptOut | None, int]:
    """Inside the caller's transaction: the opt-out row (None when an active opt-out of
    that channel, or of all, is already on file: the first one's date stays) and the
    number of waiting deliveries it cancelled."""
    existing = active(patient_id).where(OptOut.channel.in_([channel, OptOutChannel.ALL])).first()
    row = None
    if existing is None:
        row = OptOut.create(
            patient=patient_id,
            channel=channel,
            source=source,
            at=at,
            day=clinic_day(ctx, at),
            recorded_by=ctx.user.login,
            note=note,
            origin_key=origin_key,
        )
    first = row or existing
    return row, cancel_waiting(patient_id, channel, first.day, first.source, ctx.now())


def _reason(channel: OptOutChannel, kind: DeliveryKind) -> Reason:
    if channel == OptOutChannel.EMAIL or kind == DeliveryKind.EMAIL:
        return Reason.OPTED_OUT_EMAIL
    if channel == OptOutChannel.PUSH:
        return Reason.OPTED_OUT_PUSH  # the broadcast still shows in their feed
    return Reason.OPTED_OUT_FEED


def cancel_waiting(patient_id: int, channel: OptOutChannel, day: date, source: str, now: datetime) -> int:
    """Cancel the patient's deliveries on `channel` that no transport has been given yet
    (a dispatcher about to hand one over re-reads it under lock and sees it cancelled),
    and mark their recipients skipped with the opt-out's reason; a feed opt-out also
    takes live broadcasts out of their feed. Already in flight: it may arrive, and the
    ledger says so when its result comes."""
    detail = opt_out_detail(day, source)
    mine = Recipient.select(Recipient.id).where(Recipient.patient == patient_id)
    total = 0
    for kind in _KINDS[channel]:
        reason = _reason(channel, kind)
        rids = cancel_returning_recipients((Delivery.kind == kind) & Delivery.recipient.in_(mine), reason, detail)
        total += len(rids)
        waiting: tuple[RecipientStatus, ...] = RECIPIENT_WAITING
        if kind == DeliveryKind.PUBLISH:
            waiting += (RecipientStatus.ASSIGNED,)  # a broadcast publishes before any start
        if rids:
            Recipient.update(
                status=RecipientStatus.SKIPPED, reason_code=reason, reason=detail, next_attempt_at=None
            ).where(Recipient.id.in_(rids), Recipient.status.in_(waiting)).execute()
    if channel in (OptOutChannel.FEED, OptOutChannel.ALL):
        total += _leave_feeds(patient_id, detail, now)
    return total


def _leave_feeds(patient_id: int, detail: str, now: datetime) -> int:
    """Take the patient out of every live broadcast's feed they are in (an unpublish each)."""
    from core.recipients.rows import insert_deliveries

    shown = (
        Recipient.select(Recipient.id, Recipient.campaign)
        .join(Campaign)
        .where(Recipient.patient == patient_id, Recipient.in_feed == True, Campaign.expired_at.is_null(True))  # noqa: E712
    )
    rows = list(shown)
    for r in rows:
        insert_deliveries(
            DeliveryKind.UNPUBLISH, r.campaign, Recipient.select(Recipient.id).where(Recipient.id == r.id), now, now
        )
    if rows:
        ids = [r.id for r in rows]
        Recipient.update(in_feed=False).where(Recipient.id.in_(ids)).execute()
        Recipient.update(
            status=RecipientStatus.SKIPPED, reason_code=Reason.OPTED_OUT_FEED, reason=detail, next_attempt_at=None
        ).where(Recipient.id.in_(ids), Recipient.status != RecipientStatus.SENT).execute()
    return len(rows)


@dataclass(frozen=True)
class Cleared:
    emr_id: str
    channel: str
    cleared: int
    # an opt-out of every channel still in force (the day it was asked): undoing `email`
    # alone contacts them on no channel until it is undone too
    all_since: date | None = None

    def to_json(self) -> dict:
        return asdict(self)


def clear(ctx: Ctx, emr_id: str, channel: str, note: str) -> Cleared:
    """An administrator undoes a patient's opt-out of `channel` (`all`: every active
    one), with a note. The patient is contacted again only by a later start."""
    ctx.require(Permission.ADMIN)
    ch = channel_of(channel)
    text = _note(note, opt_in=True)
    with write_transaction():
        p = get_by_emr(emr_id)
        rows = list(active(p.id, None if ch == OptOutChannel.ALL else ch))
        if not rows:
            covering = active(p.id, OptOutChannel.ALL).first() if ch != OptOutChannel.ALL else None
            if covering is not None:
                raise BadInput(
                    _("patient {emr_id} opted out of every channel on {day}; to undo it, use --channel all").format(
                        emr_id=quoted_value(p.emr_id), day=formats.day(covering.day)
                    )
                )
            from core.words import word

            raise BadInput(
                _("patient {emr_id} has no opt-out of {channel} to undo").format(
                    emr_id=quoted_value(p.emr_id), channel=word("channel", ch)
                )
            )
        now = ctx.now()
        n = (
            OptOut.update(cleared_at=now, cleared_by=ctx.user.login, cleared_note=text)
            .where(OptOut.id.in_([r.id for r in rows]))
            .execute()
        )
        audit.record(
            ctx,
            "opt_in",
            emr_id=p.emr_id,
            channel=ch,
            note=text,
            cleared=[{"channel": r.channel, "source": r.source, "day": r.day} for r in rows],
        )
        covering = active(p.id, OptOutChannel.ALL).first() if ch != OptOutChannel.ALL else None
    return Cleared(p.emr_id, ch, n, covering.day if covering is not None else None)


def clear_from_app(ctx: Ctx, patient_id: int, channel: OptOutChannel, at: datetime) -> int:
    """The patient turned `channel` (feed or push) back on in the app: their `app`-sourced
    opt-outs of it recorded before `at` end (never a link's or staff's); inside the
    caller's transaction."""
    return (
        OptOut.update(cleared_at=ctx.now(), cleared_by=ctx.user.login, cleared_note="turned back on in the app")
        .where(
            OptOut.patient == patient_id,
            OptOut.channel == channel,
            OptOut.source == OptOutSource.APP,
            OptOut.cleared_at.is_null(True),
            OptOut.at <= at,
        )
        .execute()
    )


# --- reading ---------------------------------------------------------------------------


class KeptByImport:
    """Counts the rows of a directory import that said the patient may be contacted for a
    patient who opted out of it: marketing consent "yes" against an opt-out of the app's
    messages (feed, push, all), do-not-contact "no" against any opt-out. The import keeps
    them opted out (the ledger is not a column it writes) and says how many.

    The active opt-outs are read once, in one query, as each patient's EMR key and
    channels (there are few; none at all most days, and then nothing is asked again),
    and each chunk of the import is checked against them in memory."""

    APP = frozenset((OptOutChannel.FEED, OptOutChannel.PUSH, OptOutChannel.ALL))

    def __init__(self) -> None:
        self.held: dict[str, set[str]] = {}
        q = Patient.select(Patient.emr_key, OptOut.channel).join(OptOut).where(OptOut.cleared_at.is_null(True)).tuples()
        for key, channel in q:
            self.held.setdefault(key, set()).add(channel)
        self.n = 0

    def add(self, emr_keys: list[str], consent_yes: list[bool], contact_yes: list[bool]) -> None:
        if not self.held:
            return
        held, app = self.held, self.APP
        for key, consent, contact in zip(emr_keys, consent_yes, contact_yes, strict=True):
            if (consent or contact) and key in held:
                channels = held[key]
                self.n += bool(contact or (consent and not channels.isdisjoint(app)))
