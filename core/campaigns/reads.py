"""Reading campaigns: get (and lock), status, summaries with counts and the
invitation funnel, templates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import peewee as pw

from core import tally
from core.campaigns.window import window_state
from core.context import Ctx
from core.enums import (
    IN_FEED_NO_PUSH,
    LANGUAGES,
    RECIPIENT_WAITING,
    WILL_RECEIVE_NOTHING,
    CampaignStatus,
    DeliveryKind,
    DeliveryState,
    Kind,
    Permission,
    RecipientStatus,
)
from core.errors import BadInput, NotFound
from core.i18n import _
from core.models import Campaign, Delivery, Invitation, Patient, Recipient, Template
from core.reasons import Reason
from core.rules import FEED_ONLY, Stage, forbidden
from core.textcheck import quoted_value

TEMPLATE_FIELDS = {"invitation": ("subject", "body"), "broadcast": ("title", "body", "push")}


@dataclass
class Facts:
    """What a campaign's status needs beyond its recipients' counts by status."""

    in_feed: int = 0  # recipients a broadcast was published to (not removed since)
    feed_only: int = 0  # skipped for the push only: the message is in their feed
    will_skip: int = 0  # assigned, but a consent rule now forbids the feed or the email: they will receive nothing
    stopped: int = 0  # back at `assigned` after a stop, not sent since


def status_of(campaign: Campaign, counts: dict[str, int], facts: Facts | None = None) -> CampaignStatus:
    """What is true of a campaign now (SPEC §2) — the one definition the list, the
    recipients screen, the command line and `--json` show:

    - `draft`: never started, and in nobody's feed;
    - `published`: a broadcast in feeds whose pushes were never started;
    - `sending`: a start being delivered (messages queued or retrying);
    - `stopped`: stopped, and some recipients it had not reached wait for a new start;
    - `sent` / `sent with errors`: every started recipient done (some gave up).
    """
    f = facts or Facts()
    if campaign.first_started_at is None:
        return CampaignStatus.PUBLISHED if f.in_feed else CampaignStatus.DRAFT
    if any(counts.get(s, 0) for s in RECIPIENT_WAITING):
        return CampaignStatus.SENDING
    if f.stopped:
        return CampaignStatus.STOPPED
    return CampaignStatus.SENT_WITH_ERRORS if counts.get(RecipientStatus.FAILED, 0) else CampaignStatus.SENT


def statuses_of(camps: list[Campaign], counts: dict[int, dict[str, int]]) -> dict[int, CampaignStatus]:
    """Each campaign's status (`status_of`) with the facts it needs, counted only where
    they can matter: what `clinicast status` counts by (a stopped campaign read `sent`
    there, without its facts, while the list said `stopped`)."""
    counts = {c.id: counts.get(c.id, {}) for c in camps}
    facts = _facts_by_campaign(camps, counts, feed_only=False)
    return {c.id: status_of(c, counts[c.id], facts[c.id]) for c in camps}


# --- reads --------------------------------------------------------------------------


@dataclass
class CampaignSummary:
    id: int
    name: str
    kind: str
    channel: str
    status: CampaignStatus
    window_state: str | None
    starts_on: date | None
    ends_on: date | None
    counts: dict[str, int]
    total: int
    sent: int
    updated_at: datetime
    archived: bool
    funnel: dict[str, int] | None = field(default=None)
    facts: Facts = field(default_factory=Facts)
    # messages waiting for the window or sending hours, or for a sender (none alive), in words ("" none)
    held: str = ""

    @property
    def removed(self) -> int:
        """Taken off the campaign: counted apart, outside `total`."""
        return self.counts.get(RecipientStatus.REMOVED, 0)

    def shown_counts(self) -> list[tuple[str, int]]:
        """(word, n) for people, in order, adding up to `total`: the recipient statuses,
        with a broadcast's skipped-for-the-push-only apart as "in feed, no push", and the
        assigned whom a rule now forbids everything apart as "will receive nothing" (the
        removed are outside the total: `removed`)."""
        out = []
        for status in RecipientStatus:
            if status == RecipientStatus.REMOVED:
                continue
            n = self.counts.get(status, 0)
            if status == RecipientStatus.SKIPPED and self.facts.feed_only:
                out.append((IN_FEED_NO_PUSH, self.facts.feed_only))
                n -= self.facts.feed_only
            out.append((status.value, n - (self.facts.will_skip if status == RecipientStatus.ASSIGNED else 0)))
            if status == RecipientStatus.ASSIGNED and self.facts.will_skip:
                out.append((WILL_RECEIVE_NOTHING, self.facts.will_skip))
        return out

    def to_json(self) -> dict:
        d = {
            k: v
            for k, v in asdict(self).items()
            if k in ("id", "name", "kind", "channel", "status", "window_state", "counts")
        }
        d["starts_on"] = _day_json(self.starts_on)
        d["ends_on"] = _day_json(self.ends_on)
        if self.funnel is not None:
            d["funnel"] = self.funnel
        d["archived"] = self.archived
        return d


def _day_json(day) -> str | None:
    # a stored value that is not a day at all (SQLite keeps text) is shown as it is
    return day.isoformat() if isinstance(day, date) else (str(day) if day else None)


def get(campaign_id: int | str) -> Campaign:
    text = str(campaign_id).strip()
    # ASCII digits only: int() also reads "١", "１" and "1_0"
    if not (isinstance(campaign_id, int) or (text.isascii() and text.isdigit())):
        raise BadInput(_("campaign id must be a number, got {value}").format(value=quoted_value(campaign_id)))
    cid = int(text)
    # an id no database column can hold (99999999999999999999999) is simply not there
    c = Campaign.get_or_none(Campaign.id == cid) if 0 < cid < 2**63 else None
    if c is None:
        raise NotFound(_("no campaign with id {id}").format(id=cid))
    return c


def get_locked(campaign_id: int | str) -> Campaign:
    """The campaign, locked until the transaction ends, so the actions on one campaign
    (assign, start, remove, publish, expire, edit) run one at a time on every host.
    PostgreSQL: `FOR NO KEY UPDATE`, which those actions still wait on, but which does not
    block the key-share lock a dispatcher's insert of an invitation (a row naming the
    campaign) takes: with `FOR UPDATE`, a removal holding the campaign and waiting for the
    delivery row a dispatcher held while inserting its invitation was a deadlock.
    SQLite's write transaction already serialises them."""
    c = get(campaign_id)
    from core.db import is_postgres

    if is_postgres():
        c = Campaign.select().where(Campaign.id == c.id).for_update("FOR NO KEY UPDATE").get()
    return c


def _facts_by_campaign(
    camps: list[Campaign], counts: dict[int, dict[str, int]], feed_only: bool = True
) -> dict[int, Facts]:
    """Each campaign's Facts, counted only where they can be other than 0 and matter
    (issue #21: each of these counts read a million recipient rows for a list of 200
    campaigns): `in_feed` decides only an unstarted broadcast's status, `feed_only` is
    a part of a broadcast's skipped, `will_skip` a part of the assigned (both only where
    `feed_only`: counts shown to people), `stopped` decides only a started campaign's
    status when nothing is queued or retrying and someone is back at `assigned`."""
    out = {c.id: Facts() for c in camps}
    count = pw.fn.COUNT(Recipient.id)
    unstarted = [c.id for c in camps if c.kind == Kind.BROADCAST and c.first_started_at is None]
    skipping = [
        c.id for c in camps if feed_only and c.kind == Kind.BROADCAST and counts[c.id].get(RecipientStatus.SKIPPED)
    ]
    assigned = {
        kind: [c.id for c in camps if c.kind == kind and counts[c.id].get(RecipientStatus.ASSIGNED)]
        for kind in (Kind.INVITATION, Kind.BROADCAST)
        if feed_only
    }
    waiting = [
        c.id
        for c in camps
        if c.first_started_at is not None
        and counts[c.id].get(RecipientStatus.ASSIGNED)
        and not counts[c.id].get(RecipientStatus.QUEUED)
        and not counts[c.id].get(RecipientStatus.RETRYING)
    ]
    if unstarted:
        in_feed = (
            Recipient.select(Recipient.campaign, count)
            .where(
                Recipient.campaign.in_(unstarted),
                Recipient.in_feed == True,  # noqa: E712
                Recipient.status != RecipientStatus.REMOVED,
            )
            .group_by(Recipient.campaign)
            .tuples()
        )
        for cid, n in in_feed:
            out[cid].in_feed = n
    if skipping:
        apart = (
            Recipient.select(Recipient.campaign, count)
            .where(
                Recipient.campaign.in_(skipping),
                Recipient.status == RecipientStatus.SKIPPED,
                Recipient.reason_code.in_(FEED_ONLY),
            )
            .group_by(Recipient.campaign)
            .tuples()
        )
        for cid, n in apart:
            out[cid].feed_only = n
    for kind, ids in assigned.items():
        if not ids:
            continue
        # the next start skips them without the feed or the email: the rules of Stage.FEED
        # (a rule of Stage.SEND alone, the push, leaves the message in their feed)
        nothing = (
            Recipient.select(Recipient.campaign, count)
            .join(Patient)
            .where(
                Recipient.campaign.in_(ids), Recipient.status == RecipientStatus.ASSIGNED, forbidden(kind, Stage.FEED)
            )
            .group_by(Recipient.campaign)
            .tuples()
        )
        for cid, n in nothing:
            out[cid].will_skip = n
    if not waiting:
        return out
    stopped_message = Delivery.select(pw.SQL("1")).where(
        Delivery.recipient == Recipient.id,
        Delivery.kind.in_((DeliveryKind.EMAIL, DeliveryKind.PUSH)),
        Delivery.status == DeliveryState.CANCELLED,
        Delivery.error_code == Reason.STOPPED,
    )
    stopped = (
        Recipient.select(Recipient.campaign, count)
        .where(
            Recipient.campaign.in_(waiting), Recipient.status == RecipientStatus.ASSIGNED, pw.fn.EXISTS(stopped_message)
        )
        .group_by(Recipient.campaign)
        .tuples()
    )
    for cid, n in stopped:
        out[cid].stopped = n
    return out


def _funnels(ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """The invitation funnel of each campaign in `ids`, in one grouped query (it was four
    COUNTs a campaign: 400 queries for a list of 100 invitations). Patients are counted
    once each: invited, joined, expired unanswered (and not re-invited), and the
    re-invitations (core.recipients.reinvite) as invitations."""
    out = {i: {"invited": 0, "joined": 0, "expired": 0, "reinvited": 0} for i in ids}
    if not ids:
        return out

    def distinct_patients_where(cond) -> pw.Node:
        return pw.fn.COUNT(pw.fn.DISTINCT(pw.Case(None, [(cond, Invitation.patient)], None)))

    # invited: the email went out (a greylisted one waiting for its retry is not invited yet);
    # once retention deleted the email's row, the invitation's sent_at says so
    went_out = (Delivery.status == DeliveryState.SENT) | Invitation.sent_at.is_null(False)
    expired = Invitation.joined_at.is_null(True) & (Invitation.expires_at < now) & Invitation.reinvited_at.is_null(True)
    q = (
        Invitation.select(
            Invitation.campaign,
            distinct_patients_where(went_out),
            distinct_patients_where(Invitation.joined_at.is_null(False)),
            distinct_patients_where(expired & went_out),
            pw.fn.COUNT(Invitation.reinvited_at),
        )
        .join(Delivery, pw.JOIN.LEFT_OUTER, on=(Invitation.delivery == Delivery.id))
        .where(Invitation.campaign.in_(ids))
        .group_by(Invitation.campaign)
        .tuples()
    )
    for cid, invited, joined, lapsed, reinvited in q:
        out[cid] = {"invited": invited, "joined": joined, "expired": lapsed, "reinvited": reinvited}
    return out


def _summarise(
    ctx: Ctx, c: Campaign, counts: dict[str, int], funnel: dict[str, int] | None, facts: Facts
) -> CampaignSummary:
    active = {s: n for s, n in counts.items() if s in tuple(RecipientStatus)}
    total = sum(n for s, n in active.items() if s != RecipientStatus.REMOVED)
    return CampaignSummary(
        id=c.id,
        name=c.name,
        kind=c.kind,
        channel=c.channel,
        status=status_of(c, counts, facts),
        window_state=window_state(c, ctx.now(), ctx.config.clinic.tz),
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        counts=active,
        total=total,
        sent=counts.get(RecipientStatus.SENT, 0),
        updated_at=c.updated_at,
        archived=c.archived,
        funnel=funnel if c.kind == Kind.INVITATION else None,  # None: not counted (summaries(funnels=False))
        facts=facts,
    )


def summary(ctx: Ctx, campaign: Campaign | int, embedded=None) -> CampaignSummary:
    """One campaign with its counts; `embedded`: this session's EmbeddedScheduler (None:
    it has none, the command line's), for who sends what waits (`held_words`)."""
    ctx.require(Permission.CAMPAIGNS)
    c = campaign if isinstance(campaign, Campaign) else get(campaign)
    funnel = _funnels([c.id], ctx.now())[c.id] if c.kind == Kind.INVITATION else None
    counts = tally.counts([c.id])
    s = _summarise(ctx, c, counts[c.id], funnel, _facts_by_campaign([c], counts)[c.id])
    s.held = held_words(ctx, c, embedded)
    return s


def held_words(ctx: Ctx, c: Campaign, embedded=None) -> str:
    """When the campaign's waiting emails or pushes will go out, and why not before —
    "Emails will go out Thursday Mar 5 at 09:00, when sending hours begin" — or ""
    when none is held (by the broadcast's window or by sending hours, SPEC §11). Nothing
    alive sends them (core.scheduling.heartbeat.something_sends; `embedded` as `summary`'s): that they
    wait for the sending daemon, with no moment promised, held or not."""
    from core.i18n import _
    from core.scheduling.heartbeat import something_sends
    from core.sending_hours import describe_start

    now = ctx.now()
    mine = Delivery.select().where(Delivery.campaign == c, Delivery.kind.in_((DeliveryKind.EMAIL, DeliveryKind.PUSH)))
    waiting = mine.where(Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING)))
    # nothing sends them: no moment to promise, held or not (a sender must run first)
    if waiting.exists() and not something_sends(ctx.config, now, embedded):
        if c.kind == Kind.BROADCAST:
            return _("Pushes wait in the queue until the sending daemon runs — none is running now")
        return _("Emails wait in the queue until the sending daemon runs — none is running now")
    held = mine.where(Delivery.status == DeliveryState.PENDING, Delivery.due_at > now)
    if not held.exists():
        return ""
    earliest = now
    if c.kind == Kind.BROADCAST:
        from core.campaigns.window import window_bounds

        earliest = max(window_bounds(c, ctx.config.clinic.tz)[0], now)
    when = describe_start(ctx.config, earliest, now)
    if not when:
        return ""
    said = _("Pushes will go out {when}") if c.kind == Kind.BROADCAST else _("Emails will go out {when}")
    return said.format(when=when)


def funnel(ctx: Ctx, campaign_id: int) -> dict[str, int]:
    """One invitation campaign's funnel (what the TUI's detail line shows for the campaign
    under the cursor)."""
    ctx.require(Permission.CAMPAIGNS)
    return _funnels([campaign_id], ctx.now())[campaign_id]


def summaries(
    ctx: Ctx, include_archived: bool = False, search: str = "", funnels: bool = True, feed_only: bool = True
) -> list[CampaignSummary]:
    """Every campaign (newest first), archived ones only when asked. `funnels=False`
    leaves each summary's funnel None (a list that does not show them: counting every
    invitation ever sent is most of its time on a long history); `feed_only=False`
    leaves Facts.feed_only and will_skip 0 (a list that shows no `shown_counts`: they
    read every skipped recipient of every broadcast, every assigned one's patient)."""
    ctx.require(Permission.CAMPAIGNS)
    q = Campaign.select().order_by(Campaign.updated_at.desc(), Campaign.id.desc())
    if not include_archived:
        q = q.where(Campaign.archived == False)  # noqa: E712
    camps = list(q)
    if search.strip():  # core.search: the same rule as every search (accents, case, word order)
        from core.search import matches  # imported only to search (its CSV folding is not light)

        camps = [c for c in camps if matches(c.name, search)]
    ids = [c.id for c in camps]
    counts = tally.counts(ids)
    facts = _facts_by_campaign(camps, counts, feed_only)
    invitations = [c.id for c in camps if c.kind == Kind.INVITATION] if funnels else []
    by_campaign = _funnels(invitations, ctx.now())
    return [_summarise(ctx, c, counts[c.id], by_campaign.get(c.id), facts[c.id]) for c in camps]


def get_templates(ctx: Ctx, campaign_id: int) -> dict[str, dict[str, str]]:
    """{language: {field: text}} with every field of the campaign's kind."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    fields = TEMPLATE_FIELDS[c.kind]
    out: dict[str, dict[str, str]] = {lang: {f: "" for f in fields} for lang in LANGUAGES}
    for t in Template.select().where(Template.campaign == c):
        out[t.language] = {f: getattr(t, f) for f in fields}
    return out
