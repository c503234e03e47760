"""Campaigns: create, edit, archive, list; status and window rules (SPEC §2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import peewee as pw

from . import audit, dates, templating, textcheck
from .context import Ctx
from .enums import LANGUAGES, OPEN, DeliveryKind, Kind, Permission, RecipientStatus
from .errors import BadInput, NotFound, Refused
from .models import Campaign, Delivery, Invitation, Recipient, Template, database

NAME_MAX = 120
INVITATION_VALID_DAYS = 14
TEMPLATE_FIELDS = {"invitation": ("subject", "body"), "broadcast": ("title", "body", "push")}

DRAFT, SENDING, STATUS_SENT, SENT_WITH_ERRORS = "draft", "sending", "sent", "sent with errors"
UPCOMING, LIVE, ENDED = "upcoming", "live", "ended"
INVALID = "invalid"  # a stored window out of core.dates' range: fix it with `campaigns edit`


# --- window -------------------------------------------------------------------------


def window_bounds(campaign: Campaign, tz) -> tuple[datetime, datetime]:
    """The window as naive UTC [opens, closes): first day 00:00 to the day after the last, local.
    A stored day out of core.dates' range (a row written before it was checked) is
    clamped into it, so nothing that computes a window can overflow; such a campaign
    shows as `invalid` (window_state) until `campaigns edit` fixes it."""
    first, last = dates.clamp(campaign.starts_on), dates.clamp(campaign.ends_on)
    opens = datetime.combine(first, time(0), tzinfo=tz)
    closes = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return (opens.astimezone(UTC).replace(tzinfo=None), closes.astimezone(UTC).replace(tzinfo=None))


def window_state(campaign: Campaign, now: datetime, tz) -> str | None:
    """upcoming / live / ended for a broadcast at naive-UTC `now`; None for an invitation."""
    if campaign.kind != "broadcast" or not campaign.starts_on:
        return None
    if not window_valid(campaign):
        return INVALID
    opens, closes = window_bounds(campaign, tz)
    if now < opens:
        return UPCOMING
    return LIVE if now < closes else ENDED


def window_valid(campaign: Campaign) -> bool:
    """Whether a broadcast's stored window can be shown and used (both days in range)."""
    return dates.in_range(campaign.starts_on) and dates.in_range(campaign.ends_on)


def require_valid_window(campaign: Campaign) -> None:
    """Refused, saying how to fix it, for a broadcast whose stored window is invalid."""
    if campaign.kind == "broadcast" and campaign.starts_on and not window_valid(campaign):
        raise Refused(
            f"campaign {campaign.id}'s window ({campaign.starts_on} → {campaign.ends_on}) is invalid: "
            f"days must be {dates.RANGE}; fix it with `clinicast campaigns edit {campaign.id} "
            "--starts YYYY-MM-DD --ends YYYY-MM-DD`"
        )


def status_of(campaign: Campaign, counts: dict[str, int]) -> str:
    """Whether it has been sent (not whether it is visible): SPEC §2."""
    if campaign.first_started_at is None:
        return DRAFT
    if counts.get(RecipientStatus.QUEUED, 0) or counts.get(RecipientStatus.RETRYING, 0):
        return SENDING
    return SENT_WITH_ERRORS if counts.get(RecipientStatus.FAILED, 0) else STATUS_SENT


# --- reads --------------------------------------------------------------------------


@dataclass
class CampaignSummary:
    id: int
    name: str
    kind: str
    channel: str
    status: str
    window_state: str | None
    starts_on: date | None
    ends_on: date | None
    counts: dict[str, int]
    total: int
    sent: int
    updated_at: datetime
    archived: bool
    funnel: dict[str, int] | None = field(default=None)

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
    try:
        cid = int(campaign_id)
    except (TypeError, ValueError):
        raise BadInput(f"campaign id must be a number, got {campaign_id!r}") from None
    # an id no database column can hold (99999999999999999999999) is simply not there
    c = Campaign.get_or_none(Campaign.id == cid) if 0 < cid < 2**63 else None
    if c is None:
        raise NotFound(f"no campaign with id {cid}")
    return c


def get_locked(campaign_id: int | str) -> Campaign:
    """The campaign, locked until the transaction ends (PostgreSQL: FOR UPDATE), so the
    actions on one campaign (assign, start, remove, publish, expire, edit) run one at a
    time on every host. SQLite's write transaction already serialises them."""
    c = get(campaign_id)
    from .db import is_postgres

    if is_postgres():
        c = Campaign.select().where(Campaign.id == c.id).for_update().get()
    return c


def _counts_by_campaign(ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    if not ids:
        return out
    q = (
        Recipient.select(Recipient.campaign, Recipient.status, pw.fn.COUNT(Recipient.id).alias("n"))
        .where(Recipient.campaign.in_(ids))
        .group_by(Recipient.campaign, Recipient.status)
        .tuples()
    )
    for cid, status, n in q:
        out[cid][status] = n
    return out


def _funnel(campaign: Campaign, now: datetime) -> dict[str, int]:
    q = Invitation.select().where(Invitation.campaign == campaign)
    invited = q.select(pw.fn.COUNT(pw.fn.DISTINCT(Invitation.patient))).scalar() or 0
    joined = (
        q.select(pw.fn.COUNT(pw.fn.DISTINCT(Invitation.patient))).where(Invitation.joined_at.is_null(False)).scalar()
        or 0
    )
    expired = (
        q.select(pw.fn.COUNT(pw.fn.DISTINCT(Invitation.patient)))
        .where(Invitation.joined_at.is_null(True), Invitation.expires_at < now, Invitation.reinvited_at.is_null(True))
        .scalar()
        or 0
    )
    # re-invitations (core.recipients.reinvite): expired invitations followed by a fresh one
    reinvited = q.where(Invitation.reinvited_at.is_null(False)).count()
    return {"invited": invited, "joined": joined, "expired": expired, "reinvited": reinvited}


def _summarise(ctx: Ctx, c: Campaign, counts: dict[str, int]) -> CampaignSummary:
    active = {s: n for s, n in counts.items() if s in tuple(RecipientStatus)}
    total = sum(n for s, n in active.items() if s != "removed")
    return CampaignSummary(
        id=c.id,
        name=c.name,
        kind=c.kind,
        channel=c.channel,
        status=status_of(c, counts),
        window_state=window_state(c, ctx.now(), ctx.config.clinic.tz),
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        counts=active,
        total=total,
        sent=counts.get(RecipientStatus.SENT, 0),
        updated_at=c.updated_at,
        archived=c.archived,
        funnel=_funnel(c, ctx.now()) if c.kind == "invitation" else None,
    )


def summary(ctx: Ctx, campaign: Campaign | int) -> CampaignSummary:
    ctx.require("campaigns")
    c = campaign if isinstance(campaign, Campaign) else get(campaign)
    return _summarise(ctx, c, _counts_by_campaign([c.id])[c.id])


def summaries(ctx: Ctx, include_archived: bool = False, search: str = "") -> list[CampaignSummary]:
    """Every campaign (newest first), archived ones only when asked."""
    ctx.require("campaigns")
    q = Campaign.select().order_by(Campaign.updated_at.desc(), Campaign.id.desc())
    if not include_archived:
        q = q.where(Campaign.archived == False)  # noqa: E712
    if search:
        q = q.where(Campaign.name.contains(search.strip()))
    camps = list(q)
    counts = _counts_by_campaign([c.id for c in camps])
    return [_summarise(ctx, c, counts[c.id]) for c in camps]


def get_templates(ctx: Ctx, campaign_id: int) -> dict[str, dict[str, str]]:
    """{language: {field: text}} with every field of the campaign's kind."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    fields = TEMPLATE_FIELDS[c.kind]
    out: dict[str, dict[str, str]] = {lang: {f: "" for f in fields} for lang in LANGUAGES}
    for t in Template.select().where(Template.campaign == c):
        out[t.language] = {f: getattr(t, f) for f in fields}
    return out


# --- validation ---------------------------------------------------------------------


def parse_day(value, key: str) -> date | None:
    """A window day from the CLI or a form (core.dates: YYYY-MM-DD, 1900..2200)."""
    try:
        if value is None or value == "" or isinstance(value, date):
            return dates.check(value) if value else None
        return dates.parse(str(value))
    except dates.DateProblem as e:
        raise BadInput(f"{key}: expected {e}, got {str(value)[:40]!r}") from None


def validate_fields(
    kind: str, name: str, starts_on: date | None, ends_on: date | None, campaign_id: int | None = None
) -> dict[str, str]:
    """Problems by field name, for the form's inline errors and for create/edit."""
    problems: dict[str, str] = {}
    if kind not in tuple(Kind):
        problems["kind"] = f"expected one of {', '.join(Kind)}, got {kind!r}"
        return problems
    name = (name or "").strip()
    if not name:
        problems["name"] = "a name is required"
    elif len(name) > NAME_MAX:
        problems["name"] = f"at most {NAME_MAX} characters (this one has {len(name)})"
    elif (c := textcheck.first_control(name)) is not None:  # a name is shown on one line everywhere
        problems["name"] = f"expected a name without control characters, got {textcheck.describe(c)}"
    else:
        clash = Campaign.select().where(Campaign.name == name, Campaign.archived == False)  # noqa: E712
        if campaign_id is not None:
            clash = clash.where(Campaign.id != campaign_id)
        if clash.exists():
            problems["name"] = f"another campaign is already named {name!r}"
    for key, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if day and not dates.in_range(day):  # a date object that skipped parse_day
            problems[key] = f"expected a date {dates.RANGE}, got {day}"
    if kind == "broadcast":
        if not starts_on:
            problems["starts_on"] = "a broadcast needs the first day of its window"
        if not ends_on:
            problems["ends_on"] = "a broadcast needs the last day of its window"
        if starts_on and ends_on and not problems.get("ends_on") and ends_on < starts_on:
            problems["ends_on"] = f"the last day ({ends_on}) is before the first ({starts_on})"
    elif starts_on or ends_on:
        problems["starts_on"] = "an invitation has no window (it is valid 14 days from sending)"
    return problems


def _raise_problems(problems: dict[str, str]) -> None:
    if problems:
        raise BadInput("; ".join(f"{k}: {v}" for k, v in problems.items()))


def clinic_values(config) -> dict:
    """The clinic's values as templates see them."""
    c = config.clinic
    return {"name": c.name, "phone": c.phone, "address": c.address, "app_url": c.app_url}


def template_problems(ctx: Ctx, kind: str, templates: dict) -> list:
    """Every problem of a template set, checked with this clinic's real values."""
    return templating.validate_set(
        kind, templates, default_language=ctx.config.clinic.default_language, clinic=clinic_values(ctx.config)
    )


def _check_templates(ctx: Ctx, kind: str, templates: dict) -> None:
    problems = template_problems(ctx, kind, templates)
    if problems:
        raise BadInput("template: " + "; ".join(str(p) for p in problems))


def _write_templates(c: Campaign, templates: dict, now: datetime) -> None:
    fields = TEMPLATE_FIELDS[c.kind]
    for lang in LANGUAGES:
        values = {f: (templates.get(lang) or {}).get(f, "") for f in fields}
        (
            Template.insert(campaign=c, language=lang, updated_at=now, **values)
            .on_conflict(
                conflict_target=[Template.campaign, Template.language],
                update={**{getattr(Template, f): v for f, v in values.items()}, Template.updated_at: now},
            )
            .execute()
        )


def _queue_put(c: Campaign, now: datetime) -> None:
    """Tell the gateway the new content/window, if the broadcast is already out there."""
    if c.kind != "broadcast" or c.expired_at is not None:
        return
    if not Recipient.select().where(Recipient.campaign == c, Recipient.in_feed == True).exists():  # noqa: E712
        return
    Delivery.update(status="cancelled").where(
        Delivery.campaign == c, Delivery.kind == DeliveryKind.PUT, Delivery.status.in_(("pending", "retrying"))
    ).execute()
    Delivery.create(kind=DeliveryKind.PUT, campaign=c, due_at=now, created_at=now, content_version=c.content_version)


# --- actions ------------------------------------------------------------------------


def create(ctx: Ctx, kind: str, name: str, starts_on=None, ends_on=None, templates: dict | None = None) -> Campaign:
    """A new draft campaign; an invitation gets the default bilingual template."""
    ctx.require("campaigns")
    starts_on, ends_on = parse_day(starts_on, "starts"), parse_day(ends_on, "ends")
    name = (name or "").strip()
    with database.atomic():
        _raise_problems(validate_fields(kind, name, starts_on, ends_on))
        if templates is None and kind == "invitation":
            templates = templating.DEFAULT_INVITATION
        if templates:
            _check_templates(ctx, kind, templates)
        now = ctx.now()
        c = Campaign.create(
            kind=kind,
            name=name,
            starts_on=starts_on,
            ends_on=ends_on,
            created_by=ctx.user.login,
            created_at=now,
            updated_at=now,
        )
        _write_templates(c, templates or {}, now)
        audit.record(ctx, "create", c.id, kind=kind, name=name, starts_on=starts_on, ends_on=ends_on)
    return c


def edit(
    ctx: Ctx,
    campaign_id: int | str,
    *,
    name: str | None = None,
    starts_on=None,
    ends_on=None,
    templates: dict | None = None,
) -> Campaign:
    """Change name, window or templates; the kind never changes."""
    ctx.require("campaigns")
    with database.atomic():
        c = get_locked(campaign_id)
        new_name = c.name if name is None else name.strip()
        new_start = c.starts_on if starts_on is None else parse_day(starts_on, "starts")
        new_end = c.ends_on if ends_on is None else parse_day(ends_on, "ends")
        _raise_problems(validate_fields(c.kind, new_name, new_start, new_end, campaign_id=c.id))
        now = ctx.now()
        changes: dict[str, object] = {}
        if new_name != c.name:
            changes["name"] = [c.name, new_name]
        if (new_start, new_end) != (c.starts_on, c.ends_on):
            if c.kind == "broadcast" and c.expired_at is not None:
                raise Refused(
                    "this broadcast's window has ended and it was removed from the feeds; create a new campaign instead"
                )
            changes["window"] = [[c.starts_on, c.ends_on], [new_start, new_end]]
        if templates is not None:
            _check_templates(ctx, c.kind, templates)
            changes["templates"] = True
        if not changes:
            return c
        c.name, c.starts_on, c.ends_on, c.updated_at = new_name, new_start, new_end, now
        content_changed = "window" in changes or "templates" in changes
        if content_changed:
            c.content_version += 1
            if "window" in changes:
                c.published_at = None  # the publish job looks again at the new window
        c.save()
        if templates is not None:
            _write_templates(c, templates, now)
        if content_changed:
            _queue_put(c, now)
        audit.record(ctx, "edit", c.id, **changes)
    return c


def save_templates(ctx: Ctx, campaign_id: int | str, templates: dict) -> Campaign:
    return edit(ctx, campaign_id, templates=templates)


def archive(ctx: Ctx, campaign_id: int | str, archived: bool = True) -> Campaign:
    """Hide from the default list (kept for audit). A campaign still sending cannot be archived."""
    ctx.require("campaigns")
    with database.atomic():
        c = get_locked(campaign_id)
        if archived and Delivery.select().where(Delivery.campaign == c, Delivery.status.in_(OPEN)).exists():
            raise Refused(f"campaign {c.id} still has deliveries under way; archive it once they are done")
        if not archived:
            _raise_problems(
                {k: v for k, v in validate_fields(c.kind, c.name, c.starts_on, c.ends_on, c.id).items() if k == "name"}
            )
        c.archived, c.updated_at = archived, ctx.now()
        c.save()
        audit.record(ctx, "archive" if archived else "unarchive", c.id)
    return c


__all__ = [
    "CampaignSummary",
    "archive",
    "create",
    "edit",
    "get",
    "get_templates",
    "save_templates",
    "status_of",
    "summaries",
    "summary",
    "validate_fields",
    "window_bounds",
    "window_state",
    "INVITATION_VALID_DAYS",
]
