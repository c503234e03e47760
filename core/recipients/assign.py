"""Assign: one patient, several by conditions, or a list of EMR ids (SPEC §4).

Set-based: the selection goes once into a temporary table, then one INSERT … SELECT
for the recipients (skipped ones with the consent rule's reason, `core.rules`) and, for
a live broadcast, one for their publish deliveries."""

from __future__ import annotations

from collections import Counter

import peewee as pw

from core import audit, emr, formats
from core.campaigns import get_templates, window_state
from core.campaigns.actions import require_unarchived, template_problems
from core.campaigns.reads import get, get_locked
from core.campaigns.window import require_valid_window
from core.context import Ctx
from core.db import is_postgres, write_transaction
from core.delivery.store import one_of
from core.enums import DeliveryKind, Kind, Permission, RecipientStatus, WindowState
from core.errors import BadInput, Refused
from core.i18n import _
from core.models import Campaign, Patient, Recipient
from core.reasons import Reason
from core.recipients.lookup import patient_query
from core.recipients.results import AssignPreview, AssignResult
from core.recipients.rows import ensure_put, insert_deliveries
from core.recipients.selection import Keys, Picked, load_keys, pick
from core.recipients.window import publish
from core.rules import FEED_ONLY, Stage, detail_case, forbidden, reason_case

LIMIT = 5000
# what a patient's row on the campaign is, beside its statuses (`_tally`): left as it is
_REMOVED_AFTER_SENT, _SKIPPED_AFTER_SENT = "removed_after_sent", "skipped_after_sent"


def _feed_no_push(r: type[Recipient]) -> pw.Expression:
    """A broadcast recipient the start skipped for the push alone (core.rules.FEED_ONLY):
    the message is in their feed, they are on the campaign as much as one sent to. An
    assign leaves them as they are, already there — never brought back as if removed."""
    return (r.status == RecipientStatus.SKIPPED) & r.reason_code.in_(FEED_ONLY)


def _check_assignable(ctx: Ctx, c: Campaign) -> str | None:
    require_unarchived(c)
    require_valid_window(c)
    state = window_state(c, ctx.now(), ctx.config.clinic.tz)
    if state == WindowState.ENDED:
        raise Refused(
            _("campaign {id}'s window ended on {day}; nobody can be added").format(id=c.id, day=formats.day(c.ends_on))
        )
    if c.kind == Kind.BROADCAST and c.expired_at is not None:
        # expired on the gateway already: a clock set back (or a window edited) must not
        # make an assign publish, and so re-create, it there (issue #8)
        raise Refused(
            _("campaign {id} was removed from the feeds on {day}; nobody can be added").format(
                id=c.id, day=formats.day(c.expired_at, ctx.config.clinic.tz)
            )
        )
    if c.kind == Kind.BROADCAST:
        # the feed shows the message as soon as the window is open: it must be written first
        problems = template_problems(ctx, c.kind, get_templates(ctx, c.id))
        if problems:
            raise Refused(
                _(
                    "write campaign {id}'s message before adding patients "
                    "(patients see it in their feed during the window): {problem}"
                ).format(id=c.id, problem=problems[0])
            )
    return state


def _kept_code(where: str, why: str, stored: str) -> str:
    """The reason counted for a patient already on the campaign whom an assign leaves as
    they are ("": already assigned, a no-op). `where` is what their row is (`_tally`'s
    words), `why` the consent rule that forbids them now ("" none), `stored` the reason
    their row was skipped for. Removed after something was sent to them: removed (never
    sent to again); skipped: by the rule that forbids them now, else as they were."""
    if where == _REMOVED_AFTER_SENT:
        return Reason.REMOVED.value
    if where in (RecipientStatus.SKIPPED, _SKIPPED_AFTER_SENT):
        return why or stored
    return ""


def _tally(c: Campaign, patients: pw.Select) -> tuple[AssignResult, int, int]:
    """What assigning the patients `patients` selects would do, by the consent rules
    (core.rules, the feed stage), in one grouped query: added, already there, skipped by
    reason — skipped whether they come in now or were skipped (or removed after being
    sent to) before and stay so —, how many rows come in (new, or brought back), and how
    many patients matched in all. Read only: the assign and its preview both count with
    it."""
    reason = reason_case(c.kind, Stage.FEED)
    mine_r = Recipient.alias()
    unsent = mine_r.sent_at.is_null(True)
    present = pw.Case(
        None,
        [
            (mine_r.id.is_null(True), "new"),
            (_feed_no_push(mine_r), "active"),  # in the feed, no push: already there
            # removed, or skipped, before anything was sent: may come back (`_assign`)
            ((mine_r.status == RecipientStatus.REMOVED) & unsent, RecipientStatus.REMOVED.value),
            ((mine_r.status == RecipientStatus.SKIPPED) & unsent, RecipientStatus.SKIPPED.value),
            (mine_r.status == RecipientStatus.REMOVED, _REMOVED_AFTER_SENT),
            (mine_r.status == RecipientStatus.SKIPPED, _SKIPPED_AFTER_SENT),
        ],
        "active",
    )
    stored = pw.Case(None, [(mine_r.status == RecipientStatus.SKIPPED, mine_r.reason_code)], "")
    rows = (
        Patient.select(present, reason, stored, pw.fn.COUNT(Patient.id))
        .join(mine_r, pw.JOIN.LEFT_OUTER, on=(mine_r.patient == Patient.id) & (mine_r.campaign == c.id))
        .where(Patient.id.in_(patients))
        .group_by(pw.SQL("1"), pw.SQL("2"), pw.SQL("3"))  # by position: PostgreSQL cannot match parameterised CASEs
        .tuples()
    )
    result = AssignResult()
    skipped: Counter[str] = Counter()
    skipped_added: Counter[str] = Counter()  # of `skipped`, those who come in as skipped
    incoming = matched = 0
    for where, why, was, n in rows:
        matched += n
        comes_in = where in ("new", RecipientStatus.REMOVED) or (where == RecipientStatus.SKIPPED and not why)
        if not comes_in:  # left as it is: skipped for its reason, or already assigned (a no-op)
            kept = _kept_code(where, why, was)
            if kept:
                skipped[kept] += n
            else:
                result.already_assigned += n
            continue
        incoming += n
        if not why:
            result.added += n
        else:
            skipped[why] += n
            skipped_added[why] += n
    result.skipped, result.skipped_reasons = sum(skipped.values()), dict(skipped)
    result.skipped_added = dict(skipped_added)
    return result, incoming, matched


def check_assignable(ctx: Ctx, campaign_id: int | str) -> None:
    """Raise the Refused an assign to this campaign would raise now (archived, its window
    ended, its message not written), before anyone picks patients: the TUI's dialog says
    it as it opens, not after the staff member has filled it."""
    ctx.require(Permission.CAMPAIGNS)
    _check_assignable(ctx, get(campaign_id))


def preview_conditions(ctx: Ctx, campaign_id: int | str, conds: list) -> AssignPreview:
    """Before an assign by conditions: how many match, and what the assign would do with
    them now — the same count as the assign's (`_tally`), nothing written; and the
    conditions naming a text value no patient has (`conditions.unknown_values`), which
    the assign refuses unless told they are meant (`assign_conditions`)."""
    from core import conditions

    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    expr = conditions.compile(conds, ctx.today())
    result, _incoming, matched = _tally(c, Patient.select(Patient.id).where(expr))
    return AssignPreview(
        matched=matched,
        added=result.added,
        already_assigned=result.already_assigned,
        skipped_reasons=result.skipped_reasons,
        skipped_added=result.skipped_added,
        unknown=conditions.unknown_values(ctx, conds),
    )


def _assign(ctx: Ctx, campaign_id: int | str, patients: pw.Select, how: str, **detail) -> AssignResult:
    """Assign every patient selected by `patients` (a query of Patient.id) in one statement.

    New patients are inserted as `assigned` or `skipped` (with the rule's reason); a
    patient already on the campaign is left alone, except one removed or skipped before
    anything was sent to them, who is assigned again (the rules are checked afresh).

    The report is counted from the rows the statements write (RETURNING), not by a
    grouped count beforehand: only a selection of more than LIMIT patients is counted
    first (`_tally`), to refuse it before anything is written. On a live broadcast the
    new recipients are written already in the feed, beside their publish rows: updating
    rows of this same transaction made PostgreSQL check their foreign keys again.
    """
    ctx.require(Permission.CAMPAIGNS)
    with write_transaction():
        c = get_locked(campaign_id)
        state = _check_assignable(ctx, c)
        picked, matched = pick(patients)
        if matched > LIMIT:  # may be too many: counted before anything is written
            incoming = _tally(c, picked)[1]
            if incoming > LIMIT:
                raise Refused(
                    _(
                        "this would add {n} patients; one assign adds at most {limit}: "
                        "narrow the conditions or split the list. Nothing was added."
                    ).format(n=formats.number(incoming), limit=formats.number(LIMIT))
                )
        mine = Recipient.select(Recipient.patient).where(Recipient.campaign == c)
        reason, reason_detail = reason_case(c.kind, Stage.FEED), detail_case(c.kind, Stage.FEED)
        now, login = ctx.now(), ctx.user.login
        denied = forbidden(c.kind, Stage.FEED)  # the same test as `status`: NULLs read alike
        status = pw.Case(None, [(denied, RecipientStatus.SKIPPED.value)], RecipientStatus.ASSIGNED.value)
        # removed (or skipped, now allowed) before anything was sent: assigned afresh
        revive = (
            mine.where(
                Recipient.status.in_((RecipientStatus.REMOVED, RecipientStatus.SKIPPED)),
                Recipient.sent_at.is_null(True),
            )
            .join(Patient)
            .where((Recipient.status == RecipientStatus.REMOVED) | (~denied & ~_feed_no_push(Recipient)))
        )
        # left as they are, counted under their reason (not "already assigned"): skipped and
        # still forbidden, or skipped or removed after something was sent to them; read
        # before the revive, which writes some of these statuses
        kept = _kept(c, picked, reason, denied)
        of_patient = Patient.select
        revived = list(
            Recipient.update(
                status=of_patient(status).where(Patient.id == Recipient.patient),
                reason_code=of_patient(reason).where(Patient.id == Recipient.patient),
                reason=of_patient(reason_detail).where(Patient.id == Recipient.patient),
                added_at=now,
                added_by=login,
                removed_at=None,
                queued_at=None,
            )
            .where(Recipient.campaign == c, Recipient.patient.in_(picked), Recipient.patient.in_(revive))
            .returning(Recipient.reason_code)
            .tuples()
            .execute()
        )
        live = state == WindowState.LIVE
        new = Patient.select(
            pw.Value(c.id),
            Patient.id,
            status,
            reason,
            reason_detail,
            pw.Value(now),
            pw.Value(login),
            # in the feed from the start on a live broadcast: rules.in_feed() of the row
            # written — assigned, or skipped for a FEED_ONLY reason (none is a FEED rule's)
            pw.Case(None, [(denied, False)], True) if live else pw.Value(False),
        ).where(
            Patient.id.in_(picked),
            # NOT EXISTS, not NOT IN: PostgreSQL filtered the whole directory by a NOT IN
            # before joining the few thousand picked (an anti-join now)
            ~pw.fn.EXISTS(
                Recipient.select(pw.SQL("1")).where(Recipient.campaign == c, Recipient.patient == Patient.id)
            ),
        )
        columns = [
            Recipient.campaign,
            Recipient.patient,
            Recipient.status,
            Recipient.reason_code,
            Recipient.reason,
            Recipient.added_at,
            Recipient.added_by,
            Recipient.in_feed,
        ]
        added = list(
            Recipient.insert_from(new, columns)
            .on_conflict_ignore()
            .returning(Recipient.id, Recipient.reason_code, Recipient.in_feed)
            .tuples()
            .execute()
        )
        result = _counted([code for (code,) in revived] + [code for _id, code, _shown in added], matched, kept)
        if live:
            shown = [rid for rid, _code, in_feed in added if in_feed]
            if shown:
                ensure_put(c, now)
                insert_deliveries(
                    DeliveryKind.PUBLISH, c, Recipient.select(Recipient.id).where(one_of(Recipient.id, shown)), now, now
                )
            result.published = len(shown) + publish(c, now)  # and any other recipient waiting
        Picked.delete().execute()
        c.updated_at = now
        c.save(only=[Campaign.updated_at])
        audit.record(
            ctx,
            "assign",
            c.id,
            how=how,
            added=result.added,
            skipped=dict(result.skipped_reasons),  # {reason: n}, as start and re-invite write it
            already_assigned=result.already_assigned,
            **detail,
        )
    return result


def _kept(c: Campaign, picked: pw.Select, reason: pw.Case, denied: pw.Expression) -> Counter[str]:
    """{reason: n} of the picked patients already on the campaign whom the assign leaves
    skipped or removed (`_kept_code`), in one grouped query."""
    sent = Recipient.sent_at.is_null(False)
    removed, skipped = Recipient.status == RecipientStatus.REMOVED, Recipient.status == RecipientStatus.SKIPPED
    row_is = pw.Case(
        None,
        [(removed, _REMOVED_AFTER_SENT), (skipped & sent, _SKIPPED_AFTER_SENT)],
        RecipientStatus.SKIPPED.value,
    )
    rows = (
        Recipient.select(row_is, reason, Recipient.reason_code, pw.fn.COUNT(Recipient.id))
        .join(Patient)
        .where(
            Recipient.campaign == c,
            Recipient.patient.in_(picked),
            (removed & sent) | (skipped & (sent | denied) & ~_feed_no_push(Recipient)),  # those in the feed: already
        )
        .group_by(pw.SQL("1"), pw.SQL("2"), pw.SQL("3"))  # by position, as `_tally`
        .tuples()
    )
    kept: Counter[str] = Counter()
    for is_, why, stored, n in rows:
        kept[_kept_code(is_, why, stored)] += n
    return kept


def _counted(reasons: list[str], matched: int, kept: Counter[str]) -> AssignResult:
    """The report of an assign from the reason code of each row it wrote ('' for one
    assigned) and the reasons of those it left skipped or removed (`kept`), of the
    `matched` patients: the others were on the campaign already."""
    result = AssignResult()
    skipped = Counter(code for code in reasons if code)
    result.added = len(reasons) - sum(skipped.values())
    result.skipped_added = dict(skipped)  # written as skipped: on the campaign now, with their reason
    skipped.update(kept)
    result.skipped, result.skipped_reasons = sum(skipped.values()), dict(skipped)
    result.already_assigned = matched - len(reasons) - sum(kept.values())
    return result


def assign_patient(ctx: Ctx, campaign_id: int | str, emr_id: str) -> AssignResult:
    from core.patients.lookup import get_by_emr

    emr_id = emr_id.strip()
    get_by_emr(emr_id)  # NotFound, in its one wording, when the directory has no such patient
    return _assign(ctx, campaign_id, patient_query(emr_id), "patient", emr_id=emr_id)


def assign_conditions(ctx: Ctx, campaign_id: int | str, conds: list, *, unknown_ok: bool = False) -> AssignResult:
    """Assign the patients every condition selects. A condition comparing a text field
    with a value no patient has (`practitioner != "Dr Gagnin"`, a typo: nearly everyone)
    is refused with the closest values that exist (conditions.UnknownValues, nothing
    written), unless `unknown_ok`: the staff member saw it and confirmed — which the
    assign's audit row says, naming those conditions (`unknown_values_confirmed`), so the
    trail shows the warning was seen and gone past (the TUI's confirmation, the CLI's
    --allow-unknown-values)."""
    from core import conditions

    if not conds:
        raise BadInput(_("give at least one condition (FIELD OP VALUE)"))
    ctx.require(Permission.CAMPAIGNS)
    get(campaign_id)  # an unknown campaign is said first
    unknown = conditions.unknown_values(ctx, conds)
    if unknown and not unknown_ok:
        raise conditions.UnknownValues(unknown)
    confirmed = {"unknown_values_confirmed": [conditions.describe(u.condition) for u in unknown]} if unknown else {}
    expr = conditions.compile(conds, ctx.today())
    return _assign(
        ctx,
        campaign_id,
        Patient.select(Patient.id).where(expr),
        "conditions",
        conditions=[conditions.describe(c) for c in conds],
        **confirmed,
    )


def assign_ids(ctx: Ctx, campaign_id: int | str, emr_ids: list[str], known: set[str] | None = None) -> AssignResult:
    """Assign the patients with these EMR ids; unknown ids are reported, not fatal.
    `known`: the ids' keys found in the directory, when the caller looked them up
    already (core.recipients.idlist's report): they are not looked up twice. The list
    goes to a temporary table once and joins the directory (no IN list of thousands)."""
    by_key: dict[str, str] = {}
    for i in emr_ids:
        k = emr.key(i)
        if k:
            by_key.setdefault(k, i.strip())
    if not by_key:
        raise BadInput(_("no EMR ids to assign"))
    with write_transaction():  # the list's rows in one transaction, with the assign (a savepoint)
        if is_postgres():
            # one array parameter: PostgreSQL probes the key's index for each (a temporary
            # table was merge-joined with the whole index)
            in_list = Patient.emr_key == pw.fn.ANY(pw.Value(list(by_key), converter=False, unpack=False))
        else:
            load_keys(list(by_key))
            # IN (SELECT ...), not a join: SQLite, knowing nothing of the temporary table,
            # would scan the directory's index and probe the list
            in_list = Patient.emr_key.in_(Keys.select(Keys.key))
        if known is None:
            known = {k for (k,) in Patient.select(Patient.emr_key).where(in_list).tuples()}
        if len(known) > LIMIT:
            raise Refused(
                _("this list has {n} known patients; one assign adds at most {limit}. Nothing was added.").format(
                    n=formats.number(len(known)), limit=formats.number(LIMIT)
                )
            )
        result = _assign(ctx, campaign_id, Patient.select(Patient.id).where(in_list), "list", count=len(by_key))
        if not is_postgres():
            Keys.delete().execute()
    result.not_found = [i for k, i in by_key.items() if k not in known]
    return result
