"""Changing campaigns: create, edit, archive, and the checks they share with the form
(fields, templates with this clinic's values)."""

from __future__ import annotations

from datetime import date, datetime

from core import audit, dates, formats, templating, textcheck
from core.campaigns.reads import TEMPLATE_FIELDS, get, get_locked, get_templates
from core.campaigns.window import window_bounds
from core.context import Ctx
from core.enums import LANGUAGES, OPEN, DeliveryKind, DeliveryState, Kind, Permission
from core.errors import BadInput, Refused
from core.i18n import _, clauses, pgettext
from core.models import Campaign, Delivery, Recipient, Template, database
from core.sending_hours import first_allowed

NAME_MAX = 120
INVITATION_VALID_DAYS = 14  # an invitation's code is valid this long from its email's sending (SPEC §2)


# --- validation ---------------------------------------------------------------------


def parse_day(value, key: str) -> date | None:
    """A window day from the CLI or a form (core.dates: YYYY-MM-DD, 1900..2200)."""
    try:
        if value is None or value == "" or isinstance(value, date):
            return dates.check(value) if value else None
        return dates.parse(str(value))
    except dates.DateProblem as e:
        raise BadInput(
            _("{option}: expected {what}, got {value}").format(
                option=key, what=e, value=textcheck.quoted_value(str(value), 40)
            )
        ) from None


def validate_fields(
    kind: str, name: str, starts_on: date | None, ends_on: date | None, campaign_id: int | None = None
) -> dict[str, str]:
    """Problems by field name, for the form's inline errors and for create/edit."""
    problems: dict[str, str] = {}
    if kind not in tuple(Kind):
        problems["kind"] = _("expected one of {choices}, got {value}").format(
            choices=", ".join(Kind), value=textcheck.quoted_value(kind)
        )
        return problems
    name = (name or "").strip()
    if not name:
        problems["name"] = _("a name is required")
    elif len(name) > NAME_MAX:
        problems["name"] = _("at most {max} characters (this one has {n})").format(max=NAME_MAX, n=len(name))
    elif (c := textcheck.first_control(name)) is not None:  # a name is shown on one line everywhere
        problems["name"] = _("expected a name without control characters, got {what} in {value}").format(
            what=textcheck.describe(c), value=textcheck.quoted_value(name)
        )
    else:
        clash = Campaign.select().where(Campaign.name == name, Campaign.archived == False)  # noqa: E712
        if campaign_id is not None:
            clash = clash.where(Campaign.id != campaign_id)
        if clash.exists():
            problems["name"] = _("another campaign is already named “{name}”").format(name=name)
    for key, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if day and not dates.in_range(day):  # a date object that skipped parse_day
            problems[key] = _("expected {what}, got {value}").format(what=dates.range_words(), value=day)
    if kind == Kind.BROADCAST:
        if not starts_on:
            problems["starts_on"] = _("a broadcast needs the first day of its window")
        if not ends_on:
            problems["ends_on"] = _("a broadcast needs the last day of its window")
        if starts_on and ends_on and not problems.get("ends_on") and ends_on < starts_on:
            problems["ends_on"] = _("the last day ({last}) is before the first ({first})").format(
                last=formats.day(ends_on), first=formats.day(starts_on)
            )
    elif starts_on or ends_on:
        problems["starts_on"] = _("an invitation has no window (it is valid {n} days from sending)").format(
            n=INVITATION_VALID_DAYS
        )
    return problems


def field_words(key: str) -> str:
    """A campaign form field named as people read it (« dernier jour » for `ends_on`)."""
    return {
        "kind": pgettext("campaign field", "kind"),
        "name": pgettext("campaign field", "name"),
        "starts_on": pgettext("campaign field", "first day"),
        "ends_on": pgettext("campaign field", "last day"),
    }.get(key, key)


def _raise_problems(problems: dict[str, str]) -> None:
    if problems:
        raise BadInput(
            clauses(_("{field}: {problem}").format(field=field_words(k), problem=v) for k, v in problems.items())
        )


def clinic_values(config) -> dict:
    """The clinic's values as templates see them."""
    c = config.clinic
    return {"name": c.name, "phone": c.phone, "address": c.address, "app_url": c.app_url}


def template_problems(ctx: Ctx, kind: str, templates: dict) -> list:
    """Every problem of a template set, checked with this clinic's real values."""
    return templating.validate_set(
        kind, templates, default_language=ctx.config.clinic.default_language, clinic=clinic_values(ctx.config)
    )


def require_unarchived(c: Campaign) -> None:
    """An archived campaign is kept for audit: it takes no patient and sends nothing
    (assign, start, re-invite refuse it, in these words)."""
    if c.archived:
        raise Refused(_("campaign {id} is archived; unarchive it first").format(id=c.id))


def require_sendable_template(ctx: Ctx, c: Campaign) -> None:
    """Nothing is sent from a template with problems (start, re-invite, test send): refused
    with the first problem, in these words."""
    problems = template_problems(ctx, c.kind, get_templates(ctx, c.id))
    if problems:
        raise Refused(
            _("campaign {id}'s template has problems; fix them first: {problem}").format(id=c.id, problem=problems[0])
        )


def _check_templates(ctx: Ctx, kind: str, templates: dict) -> None:
    problems = template_problems(ctx, kind, templates)
    if problems:
        raise BadInput(_("template: {problems}").format(problems=clauses(str(p) for p in problems)))


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
    if c.kind != Kind.BROADCAST or c.expired_at is not None:
        return
    if not Recipient.select().where(Recipient.campaign == c, Recipient.in_feed == True).exists():  # noqa: E712
        return
    Delivery.update(status="cancelled").where(
        Delivery.campaign == c, Delivery.kind == DeliveryKind.PUT, Delivery.status.in_(("pending", "retrying"))
    ).execute()
    Delivery.create(kind=DeliveryKind.PUT, campaign=c, due_at=now, created_at=now, content_version=c.content_version)


def _follow_window(ctx: Ctx, c: Campaign, now: datetime) -> None:
    """A started broadcast's pushes not yet tried wait for the first allowed moment of
    its new window (SPEC §4, §11): moved earlier, they go with the feed, not on the old
    first day; moved later, they wait for it. One being sent, or retried after a failure,
    keeps its own time (the dispatcher checks the window again before each hand-over)."""
    opens, _closes = window_bounds(c, ctx.config.clinic.tz)
    Delivery.update(due_at=first_allowed(ctx.config, max(opens, now))).where(
        Delivery.campaign == c,
        Delivery.kind == DeliveryKind.PUSH,
        Delivery.status == DeliveryState.PENDING,
        Delivery.attempts == 0,
    ).execute()


# --- actions ------------------------------------------------------------------------


def create(ctx: Ctx, kind: str, name: str, starts_on=None, ends_on=None, templates: dict | None = None) -> Campaign:
    """A new draft campaign; an invitation gets the default bilingual template, whose
    languages `templates` (a template file's) replaces only where it gives them."""
    ctx.require(Permission.CAMPAIGNS)
    starts_on, ends_on = parse_day(starts_on, "starts"), parse_day(ends_on, "ends")
    name = (name or "").strip()
    with database.atomic():
        _raise_problems(validate_fields(kind, name, starts_on, ends_on))
        # an invitation starts from the default; a template file replaces only the
        # languages it gives (templating.over)
        base = templating.DEFAULT_INVITATION if kind == Kind.INVITATION else {}
        templates = base if templates is None else templating.over(templates, base)
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
    """Change name, window or templates; the kind never changes. `templates` replaces
    the languages it gives; one it leaves out is kept as it was (templating.over)."""
    ctx.require(Permission.CAMPAIGNS)
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
            if c.kind == Kind.BROADCAST and c.expired_at is not None:
                raise Refused(
                    _(
                        "this broadcast's window has ended and it was removed from the feeds; "
                        "create a new campaign instead"
                    )
                )
            changes["window"] = [[c.starts_on, c.ends_on], [new_start, new_end]]
        if templates is not None:
            templates = templating.over(templates, get_templates(ctx, c.id))  # a language left out is kept
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
        if "window" in changes and c.kind == Kind.BROADCAST:
            _follow_window(ctx, c, now)
        audit.record(ctx, "edit", c.id, **changes)
    return c


def save_templates(ctx: Ctx, campaign_id: int | str, templates: dict) -> Campaign:
    return edit(ctx, campaign_id, templates=templates)


def _archive_refusal(c: Campaign, archived: bool = True) -> str | None:
    if c.archived == archived:  # nothing would change
        return (_("campaign {id} is already archived") if archived else _("campaign {id} is not archived")).format(
            id=c.id
        )
    if archived and Delivery.select().where(Delivery.campaign == c, Delivery.status.in_(OPEN)).exists():
        return _("campaign {id} still has deliveries under way; archive it once they are done").format(id=c.id)
    return None


def archive_refusal(campaign_id: int | str, archived: bool = True) -> str | None:
    """Why archiving (or, `archived=False`, unarchiving) the campaign would be refused now,
    or None: what the TUI says instead of asking to confirm (`archive` checks again, under
    its lock)."""
    return _archive_refusal(get(campaign_id), archived)


def archive(ctx: Ctx, campaign_id: int | str, archived: bool = True) -> Campaign:
    """Hide from the default list (kept for audit). A campaign still sending cannot be archived;
    one archived already (or, to undo, one not archived) is refused: nothing changes, and no
    audit row says it did."""
    ctx.require(Permission.CAMPAIGNS)
    with database.atomic():
        c = get_locked(campaign_id)
        refusal = _archive_refusal(c, archived)
        if refusal is not None:
            raise Refused(refusal)
        if not archived:
            _raise_problems(
                {k: v for k, v in validate_fields(c.kind, c.name, c.starts_on, c.ends_on, c.id).items() if k == "name"}
            )
        c.archived, c.updated_at = archived, ctx.now()
        c.save()
        audit.record(ctx, "archive" if archived else "unarchive", c.id)
    return c
