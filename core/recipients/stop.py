"""Stop (SPEC §11): a campaign started by mistake, halted.

In one transaction, with the campaign locked: every email and push of the campaign not
yet handed to a transport is cancelled (`stopped`) — claimed-but-not-started rows
included: the dispatcher holding one locks it at its hand-over, then sees it cancelled
and gives it up (core.delivery.handover) — and every recipient waiting for one goes
back to `assigned`, so a later start sends to them, once.

What was handed over before the stop (`in_flight`) finishes and is recorded: a success
makes its recipient `sent` (core.delivery.results follows an `assigned` recipient for
that); a failure that would be retried is cancelled at its next hand-over (its
recipient is no longer waiting), and a later start reuses that row rather than write a
second one — so nothing leaves after the stop answers except what it counted in flight.

The feed (publish, unpublish, put, expire) is not stopped: what a broadcast shows is
assign's, remove's and the window's business; a stop stops messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import audit, formats
from core.campaigns import get
from core.campaigns.reads import get_locked
from core.context import Ctx
from core.db import write_transaction
from core.delivery.store import cancel, in_flight, not_handed_over
from core.enums import RECIPIENT_WAITING, DeliveryKind, Permission, RecipientStatus
from core.errors import Refused
from core.i18n import _, ngettext
from core.models import Campaign, Delivery, Recipient
from core.reasons import Reason
from core.recipients.results import already_sent, being_sent

MESSAGES = (DeliveryKind.EMAIL, DeliveryKind.PUSH)


@dataclass
class StopResult:
    stopped: int = 0  # emails or pushes cancelled before any transport had them
    already_sent: int = 0  # recipients sent to before the stop
    in_flight: int = 0  # handed to a transport before the stop: they finish
    waiting: int = 0  # recipients waiting for a send, who go back to `assigned` (not in --json)
    feed: str = ""  # a broadcast: what its recipients' feeds still show, in words (not in --json)
    refusal: str = ""  # a plan that would change nothing: why a stop is refused, in words (not in --json)

    @property
    def nothing_to_stop(self) -> bool:
        """Nothing would be cancelled and nobody goes back to `assigned`: a stop would change
        nothing (a draft, or everything sent) — refused, and nothing written, not even an
        audit row (what is in flight finishes either way)."""
        return self.stopped == 0 and self.waiting == 0

    def words(self) -> str:
        """What the stop did, for people — the TUI's notice and the command line's output:
        "Stopped: 3 not sent (back to assigned; a start sends to them), 1 being sent at
        this moment (it finishes), 40 already sent", each count agreeing with its number,
        and for a broadcast what its feeds still show (`feed`) on a line of its own."""
        said = _("Stopped: {not_sent}, {in_flight}, {sent}").format(
            not_sent=ngettext(
                "{n} not sent (back to assigned; a start sends to them)",
                "{n} not sent (back to assigned; a start sends to them)",
                self.stopped,
            ).format(n=formats.number(self.stopped)),
            in_flight=ngettext(
                "{n} being sent at this moment (it finishes)",
                "{n} being sent at this moment (they finish)",
                self.in_flight,
            ).format(n=formats.number(self.in_flight)),
            sent=already_sent(self.already_sent),
        )
        return f"{said}\n{self.feed}" if self.feed else said

    def to_json(self) -> dict:
        return {"stopped": self.stopped, "already_sent": self.already_sent, "in_flight": self.in_flight}


def _messages(c: Campaign):
    return (Delivery.campaign == c) & Delivery.kind.in_(MESSAGES)


def _sent(c: Campaign) -> int:
    return Recipient.select().where(Recipient.campaign == c, Recipient.status == RecipientStatus.SENT).count()


def _waiting(c: Campaign):
    return (Recipient.campaign == c) & Recipient.status.in_(RECIPIENT_WAITING)


def nothing_to_stop(c: Campaign, result: StopResult) -> str:
    """Why a stop that would change nothing is refused, in the words the TUI and the
    command line both say."""
    if c.first_started_at is None:
        return _("nothing to stop: campaign {id} has not been started").format(id=c.id)
    return _("nothing to stop: no message of campaign {id} is waiting to be sent ({sent}, {in_flight})").format(
        id=c.id, sent=already_sent(result.already_sent), in_flight=being_sent(result.in_flight)
    )


def stop_plan(ctx: Ctx, campaign_id) -> StopResult:
    """What `stop` would do now, for a confirmation; changes nothing (the counts may move
    before the stop itself: it answers with its own)."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    plan = StopResult(
        stopped=Delivery.select().where(_messages(c), not_handed_over()).count(),
        already_sent=_sent(c),
        in_flight=Delivery.select().where(_messages(c), in_flight()).count(),
        waiting=Recipient.select().where(_waiting(c)).count(),
        feed=feed_words(ctx, c),
    )
    if plan.nothing_to_stop:
        plan.refusal = nothing_to_stop(c, plan)
    return plan


def feed_words(ctx: Ctx, c: Campaign) -> str:
    """What a stop leaves in a broadcast's feeds, said before and after it: a stop stops
    the push notifications, while the message shows to every recipient for its window
    (SPEC §3: the feed follows assignment). A receptionist who stopped a broadcast whose
    window opens tomorrow read « stays in the feeds of those it was shown to » and
    believed nobody would see it. "" for an invitation or an ended window."""
    from core.campaigns.window import LIVE, UPCOMING, window_state

    tz = ctx.config.clinic.tz
    state = window_state(c, ctx.now(), tz)
    if state == UPCOMING:
        return _(
            "A stop cancels the push notifications only: the message still shows in every recipient's feed "
            "from {first} to {last}. To keep it from a patient, remove them from the campaign."
        ).format(first=formats.day(c.starts_on), last=formats.day(c.ends_on))
    if state == LIVE:
        return _(
            "A stop cancels the push notifications only: the message stays in every recipient's feed "
            "until {last}. To take it out of a patient's feed, remove them from the campaign."
        ).format(last=formats.day(c.ends_on))
    return ""


def stop(ctx: Ctx, campaign_id) -> StopResult:
    """Cancel every email and push of the campaign not yet handed over; their recipients
    go back to `assigned`. Returns the counts; Refused when that changes nothing (a draft,
    everything sent: no audit row says a stop happened)."""
    ctx.require(Permission.CAMPAIGNS)
    with write_transaction():
        c = get_locked(campaign_id)
        messages = _messages(c)
        # cancel first: a dispatcher about to hand one over waits for this transaction on
        # the delivery row (PostgreSQL FOR UPDATE; SQLite's one writer), then sees it
        # cancelled; what it handed over before is in flight, counted after the cancel
        stopped = cancel(messages, Reason.STOPPED)
        flying = Delivery.select().where(messages, in_flight()).count()
        now = ctx.now()
        waiting = (
            Recipient.update(status=RecipientStatus.ASSIGNED, next_attempt_at=None, reason_code="", reason="")
            .where(_waiting(c))
            .execute()
        )
        result = StopResult(
            stopped=stopped, already_sent=_sent(c), in_flight=flying, waiting=waiting, feed=feed_words(ctx, c)
        )
        if result.nothing_to_stop:  # nothing changed: said, and the transaction leaves no row
            raise Refused(nothing_to_stop(c, result))
        c.updated_at = now
        c.save(only=[Campaign.updated_at])
        audit.record(ctx, "stop", c.id, **result.to_json())
    return result
