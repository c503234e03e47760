"""Start (SPEC §4): send to every recipient not yet sent to. One transaction: those a
consent rule forbids now are skipped with its reason, the others queued, and one email
or push delivery written for each (due now, or when the broadcast's window opens)."""

from __future__ import annotations

from collections import Counter

import peewee as pw

from core import audit, formats, pace
from core.campaigns import get, window_bounds, window_state
from core.campaigns.actions import require_sendable_template, require_unarchived
from core.campaigns.reads import get_locked
from core.campaigns.window import require_valid_window
from core.context import Ctx
from core.db import write_transaction
from core.enums import (
    FINISHED,
    RECIPIENT_WAITING,
    DeliveryKind,
    DeliveryState,
    Kind,
    Permission,
    RecipientStatus,
    WindowState,
)
from core.errors import Refused
from core.i18n import _, ngettext
from core.models import Campaign, Patient, Recipient
from core.recipients.results import StartPlan, already_sent
from core.recipients.rows import deliveries_of, insert_deliveries
from core.rules import Stage, detail_case, forbidden, reason_case
from core.scheduling.heartbeat import something_sends
from core.sending_hours import describe_start, first_allowed


def _waiting(c: Campaign) -> pw.Select:
    return (
        Recipient.select(Recipient.id)
        .join(Patient)
        .where(Recipient.campaign == c, Recipient.status == RecipientStatus.ASSIGNED)
    )


def without_one(c: Campaign, kind: DeliveryKind) -> pw.Select:
    """The queued recipients of `c` who need a delivery of `kind`: one whose email or
    push is open or went out keeps it (after a stop, one in flight); one whose last was
    cancelled, failed or skipped gets a new one."""
    has_one = deliveries_of(Recipient.id, kind, ended=tuple(s for s in FINISHED if s != DeliveryState.SENT))
    return Recipient.select(Recipient.id).where(
        Recipient.campaign == c, Recipient.status == RecipientStatus.QUEUED, ~pw.fn.EXISTS(has_one)
    )


def start_plan(ctx: Ctx, campaign_id: int | str, embedded=None) -> StartPlan:
    """What `start` would do now: sends, skips by reason, already sent, and whether
    anything will send them (`embedded`: this session's EmbeddedScheduler, None when it
    has none — the command line's; core.scheduling.heartbeat.something_sends)."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    rows = (
        Recipient.select(reason_case(c.kind, Stage.SEND), pw.fn.COUNT(Recipient.id))
        .join(Patient)
        .where(Recipient.campaign == c, Recipient.status == RecipientStatus.ASSIGNED)
        .group_by(pw.SQL("1"))
        .tuples()
    )
    by_reason = Counter(dict(rows))
    plan = StartPlan(will_send=by_reason.pop("", 0), skipped=dict(by_reason), kind=c.kind)
    plan.already_sent = (
        Recipient.select().where(Recipient.campaign == c, Recipient.status == RecipientStatus.SENT).count()
    )
    plan.in_progress = (
        Recipient.select().where(Recipient.campaign == c, Recipient.status.in_(RECIPIENT_WAITING)).count()
    )
    earliest = ctx.now()
    if c.kind == Kind.BROADCAST:
        opens, _ = window_bounds(c, ctx.config.clinic.tz)
        earliest = max(opens, earliest)
    # sending hours: the first allowed moment on or after that (SPEC §11)
    plan.queued_for = first_allowed(ctx.config, earliest)
    plan.sending_begins = describe_start(ctx.config, earliest, ctx.now())
    plan.sending_begins_en = describe_start(ctx.config, earliest, ctx.now(), "en")
    plan.nobody_sends = not something_sends(ctx.config, ctx.now(), embedded)
    if c.kind == Kind.INVITATION and plan.will_send and pace.limited(ctx.config.email):
        # after the emails waiting that are due by then (core.pace); no time when nothing sends
        plan.pace = pace.describe(ctx.config, ctx.now(), plan.will_send, plan.queued_for, sending=not plan.nobody_sends)
    return plan


def _check_startable(ctx: Ctx, c: Campaign) -> None:
    require_unarchived(c)
    require_valid_window(c)
    if window_state(c, ctx.now(), ctx.config.clinic.tz) == WindowState.ENDED:
        raise Refused(
            _("campaign {id}'s window ended on {day}; it cannot be started").format(id=c.id, day=formats.day(c.ends_on))
        )
    if c.kind == Kind.BROADCAST and c.expired_at is not None:  # see assign: never re-create it on the gateway
        raise Refused(
            _("campaign {id} was removed from the feeds on {day}; it cannot be started").format(
                id=c.id, day=formats.day(c.expired_at, ctx.config.clinic.tz)
            )
        )
    require_sendable_template(ctx, c)


def nothing_to_start(campaign_id: int, plan: StartPlan) -> str:
    """Why a start with nobody to send to is refused (`plan.will_send` is 0 and nobody is
    skipped), in the words the TUI and the command line both say."""
    n = plan.in_progress
    return _("nothing to start: no recipient of campaign {id} is waiting ({sent}, {busy})").format(
        id=campaign_id,
        sent=already_sent(plan.already_sent),
        busy=ngettext("{n} in progress", "{n} in progress", n).format(n=formats.number(n)),
    )


def start(ctx: Ctx, campaign_id: int | str, embedded=None) -> StartPlan:
    """Send to every recipient not yet sent to (SPEC §4); returns what was done
    (`embedded`: as `start_plan`'s)."""
    ctx.require(Permission.CAMPAIGNS)
    with write_transaction():
        c = get_locked(campaign_id)
        _check_startable(ctx, c)
        plan = start_plan(ctx, c.id, embedded)
        if plan.will_send == 0 and not plan.skipped:
            raise Refused(nothing_to_start(c.id, plan))
        now = ctx.now()
        if c.kind == Kind.BROADCAST:
            # a patient who may no longer see the broadcast comes off their feed
            gone = _waiting(c).where(Recipient.in_feed == True, forbidden(c.kind, Stage.FEED))  # noqa: E712
            insert_deliveries(DeliveryKind.UNPUBLISH, c, gone, now, now)
            Recipient.update(in_feed=False).where(Recipient.id.in_(gone)).execute()
        # those a rule forbids now are skipped with the reason; the others are queued
        of_patient = Patient.select
        (
            Recipient.update(
                status=RecipientStatus.SKIPPED,
                reason_code=of_patient(reason_case(c.kind, Stage.SEND)).where(Patient.id == Recipient.patient),
                reason=of_patient(detail_case(c.kind, Stage.SEND)).where(Patient.id == Recipient.patient),
            )
            .where(Recipient.id.in_(_waiting(c).where(forbidden(c.kind, Stage.SEND))))
            .execute()
        )
        Recipient.update(status=RecipientStatus.QUEUED, queued_at=now, reason_code="", reason="").where(
            Recipient.id.in_(_waiting(c))
        ).execute()
        kind = DeliveryKind.EMAIL if c.kind == Kind.INVITATION else DeliveryKind.PUSH
        insert_deliveries(kind, c, without_one(c, kind), plan.queued_for or now, now)
        if c.first_started_at is None:
            c.first_started_at = now
        c.last_started_at = c.updated_at = now
        c.save()
        audit.record(ctx, "start", c.id, will_send=plan.will_send, skipped=plan.skipped, queued_for=plan.queued_for)
    return plan
