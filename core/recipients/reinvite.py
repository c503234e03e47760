"""Re-invite (SPEC §11): a fresh invitation — new code, valid 14 days from its sending —
to each recipient of an invitation campaign whose invitation expired without them
joining, once per expired invitation.

Who: a recipient already `sent`, whose invitations all expired unjoined, the latest of
which was not re-invited yet, with no email of the campaign still under way. The
consent rules and opt-outs (core.rules, send stage) are checked now and again at the
hand-over; a recipient a rule forbids now is counted under its reason and left as it is
(still `sent`: they got the first invitation), and may be re-invited later if the rule
no longer holds. The others are queued with one new email delivery each, due at the
first moment the sending hours allow, and their expired invitation is marked
`reinvited_at` — so running it twice in a row sends nothing the second time. The new
invitation is made at the email's hand-over, like any other (core.delivery.invitations).
"""

from __future__ import annotations

from collections import Counter

import peewee as pw

from core import audit, formats
from core.campaigns import get
from core.campaigns.actions import require_sendable_template, require_unarchived
from core.campaigns.reads import get_locked
from core.context import Ctx
from core.db import write_transaction
from core.enums import FINISHED, DeliveryKind, Kind, Permission, RecipientStatus
from core.errors import Refused
from core.i18n import _, ngettext
from core.models import Campaign, Invitation, Patient, Recipient
from core.recipients.results import StartPlan, re_invited_before
from core.recipients.rows import deliveries_of, insert_deliveries
from core.rules import Stage, forbidden, reason_case
from core.scheduling.heartbeat import something_sends
from core.sending_hours import describe_start, first_allowed

_CHUNK = 500


def _expired(c: Campaign, now) -> pw.Select:
    """(invitation id, recipient id) of each expired, unjoined, not yet re-invited latest
    invitation of a recipient still `sent`, with nothing under way for them."""
    other = Invitation.alias()
    live_or_joined = other.select(other.id).where(
        other.recipient == Invitation.recipient,
        other.joined_at.is_null(False) | (other.expires_at >= now) | (other.id > Invitation.id),
    )
    under_way = deliveries_of(Invitation.recipient, DeliveryKind.EMAIL, ended=FINISHED)
    return (
        Invitation.select(Invitation.id, Invitation.recipient)
        .join(Recipient, on=(Recipient.id == Invitation.recipient))
        .where(
            Invitation.campaign == c,
            Invitation.expires_at < now,
            Invitation.joined_at.is_null(True),
            Invitation.reinvited_at.is_null(True),
            Recipient.status == RecipientStatus.SENT,
            ~pw.fn.EXISTS(live_or_joined),
            ~pw.fn.EXISTS(under_way),
        )
    )


def reinvite_plan(ctx: Ctx, campaign_id, embedded=None) -> StartPlan:
    """What `reinvite` would do now (the start breakdown's words): will send, skipped by
    reason; `already_sent` = invitations re-invited before; whether anything sends them
    (`embedded`: as core.recipients.start_plan's)."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    if c.kind != Kind.INVITATION:
        raise Refused(_("campaign {id} is a broadcast; only an invitation can be re-invited").format(id=c.id))
    require_unarchived(c)  # said by the dry run as by the re-invite itself
    now = ctx.now()
    rids = _expired(c, now).select(Invitation.recipient)
    rows = (
        Recipient.select(reason_case(c.kind, Stage.SEND), pw.fn.COUNT(Recipient.id))
        .join(Patient)
        .where(Recipient.id.in_(rids))
        .group_by(pw.SQL("1"))
        .tuples()
    )
    by_reason = Counter(dict(rows))
    plan = StartPlan(will_send=by_reason.pop("", 0), skipped=dict(by_reason))
    plan.already_sent = (
        Invitation.select().where(Invitation.campaign == c, Invitation.reinvited_at.is_null(False)).count()
    )
    plan.queued_for = first_allowed(ctx.config, now)
    plan.sending_begins = describe_start(ctx.config, now, now)
    plan.sending_begins_en = describe_start(ctx.config, now, now, "en")
    plan.nobody_sends = not something_sends(ctx.config, now, embedded)
    return plan


def nothing_to_reinvite(campaign_id: int, plan: StartPlan) -> str:
    """Why a re-invite that would send nothing is refused (`plan.will_send` is 0), in the
    words the TUI and the command line both say."""
    skipped = sum(plan.skipped.values())
    before = re_invited_before(plan.already_sent)
    if skipped:
        return _(
            "nothing to re-invite: no invitation of campaign {id} expired unanswered that may be sent "
            "again ({forbidden}); {before}"
        ).format(
            id=campaign_id,
            forbidden=ngettext(
                "{n} forbidden by a consent rule or opt-out", "{n} forbidden by a consent rule or opt-out", skipped
            ).format(n=formats.number(skipped)),
            before=before,
        )
    return _("nothing to re-invite: no invitation of campaign {id} expired unanswered; {before}").format(
        id=campaign_id, before=before
    )


def reinvite(ctx: Ctx, campaign_id, embedded=None) -> StartPlan:
    """Send a fresh invitation to every recipient whose invitation expired unanswered
    (`embedded`: as `reinvite_plan`'s)."""
    ctx.require(Permission.CAMPAIGNS)
    with write_transaction():
        c = get_locked(campaign_id)
        plan = reinvite_plan(ctx, c.id, embedded)
        require_sendable_template(ctx, c)
        if plan.will_send == 0:
            raise Refused(nothing_to_reinvite(c.id, plan))
        now = ctx.now()
        due = plan.queued_for or now
        allowed = (
            _expired(c, now)
            .select(Invitation.id, Invitation.recipient)
            .join(Patient, on=(Patient.id == Recipient.patient))
            .where(~forbidden(c.kind, Stage.SEND))
            .tuples()
        )
        pairs = list(allowed)
        for i in range(0, len(pairs), _CHUNK):
            chunk = pairs[i : i + _CHUNK]
            Invitation.update(reinvited_at=now).where(Invitation.id.in_([inv for inv, _ in chunk])).execute()
            rids = [r for _, r in chunk]
            Recipient.update(status=RecipientStatus.QUEUED, queued_at=now, next_attempt_at=None).where(
                Recipient.id.in_(rids)
            ).execute()
            insert_deliveries(
                DeliveryKind.EMAIL,
                c,
                Recipient.select(Recipient.id).where(Recipient.id.in_(rids)),
                due,
                now,
            )
        c.last_started_at = c.updated_at = now
        c.save(only=[Campaign.last_started_at, Campaign.updated_at])
        audit.record(ctx, "reinvite", c.id, will_send=plan.will_send, skipped=plan.skipped, queued_for=plan.queued_for)
    return plan
