"""Remove one recipient (SPEC §4): nothing more is sent to them, and a live broadcast
leaves their feed. What was already handed to a transport may still arrive, and the
ledger says so afterwards (sent, with its time, then removed)."""

from __future__ import annotations

from dataclasses import dataclass

from core import audit
from core.campaigns import get
from core.campaigns.reads import get_locked
from core.context import Ctx
from core.db import write_transaction
from core.delivery.store import cancel, in_flight
from core.enums import DeliveryKind, DeliveryState, Kind, Permission, RecipientStatus
from core.errors import BadInput
from core.i18n import N_, _, clauses
from core.models import Campaign, Delivery, Recipient
from core.reasons import Reason
from core.recipients.lookup import recipient
from core.recipients.rows import insert_deliveries
from core.textcheck import quoted_value


@dataclass(frozen=True)
class Removal:
    """What taking a recipient off a campaign means for them: its clauses, English msgids."""

    parts: tuple[str, ...]

    def words(self) -> str:
        """In the reader's language (the TUI's notice, the command's line)."""
        return clauses(_(p) for p in self.parts)

    def english(self) -> str:
        """As the spec writes it (`--json`)."""
        return "; ".join(self.parts)

    def __str__(self) -> str:
        return self.words()


def _outcome(c: Campaign, r: Recipient) -> Removal:
    """What taking this recipient off the campaign means for them (said before and after)."""
    email = c.kind == Kind.INVITATION
    if r.status == RecipientStatus.REMOVED:
        return Removal((N_("they were already removed"),))
    # one statement reads every send of theirs (one snapshot): on PostgreSQL a result
    # committed between reading `r` and this would otherwise be neither "sent" (r is older)
    # nor "in flight" (it is over) — and a patient emailed was told "will not receive"
    sends = (
        Delivery.select(Delivery.status, in_flight())
        .where(Delivery.recipient == r, Delivery.kind.in_((DeliveryKind.EMAIL, DeliveryKind.PUSH)))
        .tuples()
    )
    states = [(status, bool(flying)) for status, flying in sends]
    if r.status == RecipientStatus.SENT or r.sent_at or any(status == DeliveryState.SENT for status, _h in states):
        if email:
            out = [N_("the invitation email was already sent to them; they are only taken off the list")]
        else:
            out = [N_("the push notification was already sent to them; they are only taken off the list")]
    elif any(flying for _status, flying in states):
        if email:
            out = [N_("the invitation email is being sent at this moment and may still arrive")]
        else:
            out = [N_("the push notification is being sent at this moment and may still arrive")]
    else:
        out = [
            N_("they will not receive the invitation email")
            if email
            else N_("they will not receive the push notification")
        ]
    if r.in_feed and c.expired_at is None:
        out.append(N_("the message is removed from their Broadcasts feed in the app"))
    return Removal(tuple(out))


def removal_effect(ctx: Ctx, campaign_id: int | str, emr_id: str) -> str:
    """What `remove` would do to this patient, for a confirmation; changes nothing."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    return _outcome(c, recipient(c, emr_id)).words()


def remove(ctx: Ctx, campaign_id: int | str, emr_id: str) -> Removal:
    """Take one patient off the campaign; returns what that means for them."""
    ctx.require(Permission.CAMPAIGNS)
    with write_transaction():
        c = get_locked(campaign_id)
        r = recipient(c, emr_id)
        if r.status == RecipientStatus.REMOVED:
            raise BadInput(
                _("patient {emr_id} was already removed from campaign {id}").format(
                    emr_id=quoted_value(emr_id), id=c.id
                )
            )
        # cancel first: a dispatcher about to hand one over waits for this transaction on
        # the delivery row, then sees it cancelled (or it had handed it over: in flight)
        cancelled = cancel(Delivery.recipient == r, Reason.REMOVED)
        outcome = _outcome(c, r)
        now = ctx.now()
        if r.in_feed and c.expired_at is None:
            insert_deliveries(
                DeliveryKind.UNPUBLISH, c, Recipient.select(Recipient.id).where(Recipient.id == r.id), now, now
            )
        # « retiré » alone: the reason of what the removal ended (a retry's gateway error, a
        # skip) is not why it was removed (the audit keeps the status it had)
        Recipient.update(
            status=RecipientStatus.REMOVED,
            removed_at=now,
            in_feed=False,
            next_attempt_at=None,
            reason_code="",
            reason="",
        ).where(Recipient.id == r.id).execute()
        c.updated_at = now
        c.save(only=[Campaign.updated_at])
        audit.record(ctx, "remove", c.id, emr_id=emr_id, previous_status=r.status, cancelled=cancelled)
    return outcome
