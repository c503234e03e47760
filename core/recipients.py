"""Recipients: assign (one, by conditions, from a CSV of EMR ids), remove, start (SPEC §4).

Every effect that must reach the outside world is written as a delivery row in the same
transaction as the action (the outbox). Assigns and starts are set-based: one
INSERT … SELECT whatever the number of patients.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import peewee as pw

from . import audit
from .campaigns import ENDED, LIVE, get, get_locked, get_templates, template_problems, window_bounds, window_state
from .context import Ctx
from .db import sql_uuid, write_transaction
from .enums import DeliveryKind, DeliveryState, RecipientStatus
from .errors import BadInput, NotFound, Refused
from .models import BaseModel, Campaign, Delivery, Patient, Recipient

LIMIT = 5000

R_NO_APP = "no app account"
R_NO_CONSENT = "no marketing consent"
R_NO_PUSH = "push notifications off (the message still shows in their feed)"
R_DNC = "do not contact"
R_ON_APP = "already on the patient app"
R_NO_EMAIL = "no email address"
R_WINDOW_ENDED = "the broadcast window ended before sending"

R_UNKNOWN_APP = "unknown app account"  # the gateway's answer to a publish (see core.dispatch)


def _feed_eligible() -> pw.Expression:
    """Recipients who see a live broadcast in their feed: everyone assigned, whether or not
    a push went out, except the removed, those a consent rule skipped and unknown accounts."""
    return (
        (Recipient.status != RecipientStatus.REMOVED)
        & ((Recipient.status != RecipientStatus.SKIPPED) | (Recipient.reason == R_NO_PUSH))
        & (Recipient.reason != R_UNKNOWN_APP)
    )


# --- consent rules (the one place they are written) --------------------------------


def _no_app():
    return Patient.app_id.is_null(True) | (Patient.app_id == "")


def _assign_rules(kind: str) -> list[tuple[pw.Expression, str]]:
    """(condition that forbids, reason) in order, checked at assign and again at send."""
    if kind == "broadcast":
        return [(_no_app(), R_NO_APP), (Patient.marketing_consent == False, R_NO_CONSENT)]  # noqa: E712
    return [
        (Patient.do_not_contact == True, R_DNC),  # noqa: E712
        (~_no_app(), R_ON_APP),
        (Patient.email.is_null(True) | (Patient.email == ""), R_NO_EMAIL),
    ]


def _start_rules(kind: str) -> list[tuple[pw.Expression, str]]:
    rules = _assign_rules(kind)
    if kind == "broadcast":
        rules.append((Patient.push_enabled == False, R_NO_PUSH))  # noqa: E712
    return rules


def skip_reason(kind: str, patient: Patient, at_start: bool = True) -> str:
    """The reason a rule forbids sending to this patient now, or '' (used at send time)."""
    checks = {
        R_NO_APP: not patient.app_id,
        R_NO_CONSENT: not patient.marketing_consent,
        R_NO_PUSH: not patient.push_enabled,
        R_DNC: patient.do_not_contact,
        R_ON_APP: bool(patient.app_id),
        R_NO_EMAIL: not patient.email,
    }
    rules = _start_rules(kind) if at_start else _assign_rules(kind)
    for _, reason in rules:
        if checks[reason]:
            return reason
    return ""


def _reason_case(rules) -> pw.Case:
    return pw.Case(None, [(cond, reason) for cond, reason in rules], "")


def _forbidden(rules) -> pw.Expression:
    expr = rules[0][0]
    for cond, _ in rules[1:]:
        expr = expr | cond
    return expr


# --- results ------------------------------------------------------------------------


@dataclass
class AssignResult:
    added: int = 0
    already_assigned: int = 0
    skipped: int = 0
    not_found: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    published: int = 0

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "already_assigned": self.already_assigned,
            "skipped": self.skipped,
            "not_found": self.not_found,
        }


@dataclass
class StartPlan:
    will_send: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    already_sent: int = 0
    in_progress: int = 0
    queued_for: datetime | None = None  # when the sends go out (window start for a broadcast)

    def to_json(self) -> dict:
        d = asdict(self)
        d["queued_for"] = self.queued_for.isoformat() + "Z" if self.queued_for else None
        return d


@dataclass
class RecipientRow:
    id: int
    emr_id: str
    name: str
    status: str
    reason: str
    added_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None

    def to_json(self) -> dict:
        def iso(d):
            return d.isoformat(timespec="seconds") + "Z" if d else None

        return {
            "emr_id": self.emr_id,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "added_at": iso(self.added_at),
            "sent_at": iso(self.sent_at),
        }


# --- assign -------------------------------------------------------------------------


class _Picked(BaseModel):
    """The patients one assign picked, evaluated once (a per-connection temporary table)."""

    patient = pw.IntegerField(primary_key=True)

    class Meta:
        table_name = "clinicast_picked"


def _pick(patients: pw.Select) -> pw.Select:
    _Picked.create_table(safe=True, temporary=True)
    _Picked.delete().execute()
    _Picked.insert_from(patients, [_Picked.patient]).on_conflict_ignore().returning().execute()
    return _Picked.select(_Picked.patient)


def _assign(ctx: Ctx, campaign_id, patients: pw.Select, how: str, **detail) -> AssignResult:
    """Assign every patient selected by `patients` (a query of Patient.id) in one statement.

    New patients are inserted as `assigned` or `skipped` (with the rule's reason); a
    patient already on the campaign is left alone, except one removed or skipped before
    anything was sent to them, who is assigned again (the rules are checked afresh).
    """
    ctx.require("campaigns")
    with write_transaction():
        c = get_locked(campaign_id)
        if c.archived:
            raise Refused(f"campaign {c.id} is archived; unarchive it before adding patients")
        state = window_state(c, ctx.now(), ctx.config.clinic.tz)
        if state == ENDED:
            raise Refused(f"campaign {c.id}'s window ended on {c.ends_on}; nobody can be added")
        if c.kind == "broadcast":
            # the feed shows the message as soon as the window is open: it must be written first
            problems = template_problems(ctx, c.kind, get_templates(c.id))
            if problems:
                raise Refused(
                    f"write campaign {c.id}'s message before adding patients "
                    f"(patients see it in their feed during the window): {problems[0]}"
                )
        rules = _assign_rules(c.kind)
        patients = _pick(patients)
        mine = Recipient.select(Recipient.patient).where(Recipient.campaign == c)

        reason = _reason_case(rules)
        mine_r = Recipient.alias()
        present = pw.Case(
            None,
            [
                (mine_r.id.is_null(True), "new"),
                (
                    mine_r.status.in_((RecipientStatus.REMOVED, RecipientStatus.SKIPPED))
                    & mine_r.sent_at.is_null(True),
                    mine_r.status,
                ),
            ],
            "active",
        )
        rows = (
            Patient.select(present, reason, pw.fn.COUNT(Patient.id))
            .join(mine_r, pw.JOIN.LEFT_OUTER, on=(mine_r.patient == Patient.id) & (mine_r.campaign == c.id))
            .where(Patient.id.in_(patients))
            .group_by(pw.SQL("1"), pw.SQL("2"))
            .tuples()
        )  # by position: PostgreSQL cannot match parameterised CASEs
        result = AssignResult()
        skipped = Counter()
        revived = 0
        for where, why, n in rows:
            if where == "active" or (where == RecipientStatus.SKIPPED and why):
                result.already_assigned += n  # a no-op: nothing changes for them
                continue
            revived += n if where != "new" else 0
            if not why:
                result.added += n
            else:
                skipped[why] += n
        result.skipped, result.skipped_reasons = sum(skipped.values()), dict(skipped)
        incoming = result.added + result.skipped
        if incoming > LIMIT:
            raise Refused(
                f"this would add {incoming} patients; one assign adds at most {LIMIT}: "
                "narrow the conditions or split the list. Nothing was added."
            )
        now, login = ctx.now(), ctx.user.login
        forbidden = _forbidden(rules)
        status = pw.Case(None, [(forbidden, RecipientStatus.SKIPPED)], RecipientStatus.ASSIGNED)
        # removed (or skipped, now allowed) before anything was sent: assigned afresh
        revive = (
            mine.where(
                Recipient.status.in_((RecipientStatus.REMOVED, RecipientStatus.SKIPPED)),
                Recipient.sent_at.is_null(True),
            )
            .join(Patient)
            .where((Recipient.status == RecipientStatus.REMOVED) | ~forbidden)
        )
        if revived:
            patient_of = Patient.select
            (
                Recipient.update(
                    status=patient_of(status).where(Patient.id == Recipient.patient),
                    reason=patient_of(reason).where(Patient.id == Recipient.patient),
                    added_at=now,
                    added_by=login,
                    removed_at=None,
                    queued_at=None,
                )
                .where(Recipient.campaign == c, Recipient.patient.in_(patients), Recipient.patient.in_(revive))
                .execute()
            )
        new = Patient.select(
            pw.Value(c.id), Patient.id, status, reason, pw.Value(now), pw.Value(login), pw.Value(False)
        ).where(Patient.id.in_(patients), Patient.id.not_in(mine))
        (
            Recipient.insert_from(
                new,
                [
                    Recipient.campaign,
                    Recipient.patient,
                    Recipient.status,
                    Recipient.reason,
                    Recipient.added_at,
                    Recipient.added_by,
                    Recipient.in_feed,
                ],
            )
            .on_conflict_ignore()
            .returning()
            .execute()
        )
        if state == LIVE:
            result.published = _publish(c, now)
        _Picked.delete().execute()
        c.updated_at = now
        c.save(only=[Campaign.updated_at])
        audit.record(
            ctx,
            "assign",
            c.id,
            how=how,
            added=result.added,
            skipped=result.skipped,
            already_assigned=result.already_assigned,
            **detail,
        )
    return result


def assign_patient(ctx: Ctx, campaign_id, emr_id: str) -> AssignResult:
    emr_id = emr_id.strip()
    if not Patient.select().where(Patient.emr_id == emr_id).exists():
        raise NotFound(f"no patient with EMR id {emr_id!r}")
    return _assign(
        ctx, campaign_id, Patient.select(Patient.id).where(Patient.emr_id == emr_id), "patient", emr_id=emr_id
    )


def assign_conditions(ctx: Ctx, campaign_id, conds: list) -> AssignResult:
    from . import conditions

    if not conds:
        raise BadInput("give at least one condition (FIELD OP VALUE)")
    expr = conditions.compile(conds, ctx.today())
    return _assign(
        ctx,
        campaign_id,
        Patient.select(Patient.id).where(expr),
        "conditions",
        conditions=[conditions.describe(c) for c in conds],
    )


def _known_emr_ids(ids: list[str]) -> set[str]:
    """The ids that are in the patient directory (in chunks: SQLite caps parameters)."""
    known: set[str] = set()
    for start in range(0, len(ids), 10000):
        chunk = ids[start : start + 10000]
        known.update(r for (r,) in Patient.select(Patient.emr_id).where(Patient.emr_id.in_(chunk)).tuples())
    return known


def assign_ids(ctx: Ctx, campaign_id, emr_ids: list[str]) -> AssignResult:
    """Assign the patients with these EMR ids; unknown ids are reported, not fatal."""
    ids = list(dict.fromkeys(i.strip() for i in emr_ids if i.strip()))
    if not ids:
        raise BadInput("no EMR ids to assign")
    known = _known_emr_ids(ids)
    if len(known) > LIMIT:
        raise Refused(f"this list has {len(known)} known patients; one assign adds at most {LIMIT}. Nothing was added.")
    result = _assign(
        ctx, campaign_id, Patient.select(Patient.id).where(Patient.emr_id.in_(sorted(known))), "list", count=len(ids)
    )
    result.not_found = [i for i in ids if i not in known]
    return result


# --- CSV lists of EMR ids ------------------------------------------------------------

# normalised (core.csvio.norm) names of a column holding EMR ids
ID_COLUMNS = (
    "emrid",
    "emr",
    "patientid",
    "id",
    "nodossier",
    "nodedossier",
    "numerodedossier",
    "numerodossier",
    "dossier",
    "chart",
    "chartnumber",
    "mrn",
    "idpatient",
    "noemr",
)


@dataclass
class IdListReport:
    path: str
    column: str
    ids: list[str] = field(default_factory=list)  # unique, in file order
    lines: dict[str, int] = field(default_factory=dict)  # id -> first line
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (line, id)
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # (line, id, first line)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line, why)

    @property
    def found(self) -> list[str]:
        unknown = {i for _, i in self.unknown}
        return [i for i in self.ids if i not in unknown]

    def problems(self) -> list[str]:
        out = [f"{self.path}:{ln}: unknown EMR id {i!r}" for ln, i in self.unknown]
        out += [f"{self.path}:{ln}: duplicate of line {first} ({i!r})" for ln, i, first in self.duplicates]
        out += [f"{self.path}:{ln}: {why}" for ln, why in self.bad_lines]
        return out


def read_id_list(path: str | Path) -> IdListReport:
    """Read a CSV of EMR ids and check it against the directory; changes nothing."""
    from . import csvio

    table = csvio.read_table(path)
    norm = [csvio.norm(h) for h in table.header]
    column = next((h for h in norm if h in ID_COLUMNS), None)
    rows = [(r.line, r.values) for r in table.rows]
    if column is None:
        if len(norm) != 1:
            raise BadInput(
                f"{path}:1: no EMR id column: expected a column named like emr_id, patient_id, "
                f"id or no dossier (found {', '.join(table.header)})"
            )
        column = norm[0]
        # a single column without a recognised header: the first line is an id too
        rows.insert(0, (table.header_line, {column: table.header[0]}))
    report = IdListReport(path=str(path), column=column)
    for bad in table.bad_rows:
        report.bad_lines.append((bad.line, bad.message))
    for line, values in rows:
        value = (values.get(column) or "").strip()
        if not value:
            report.bad_lines.append((line, "no EMR id on this line"))
        elif value in report.lines:
            report.duplicates.append((line, value, report.lines[value]))
        else:
            report.lines[value] = line
            report.ids.append(value)
    known = _known_emr_ids(report.ids)
    report.unknown = [(report.lines[i], i) for i in report.ids if i not in known]
    return report


def assign_csv(ctx: Ctx, campaign_id, path: str | Path) -> AssignResult:
    """Read the list and assign the known ids; bad lines refuse the whole file."""
    ctx.require("campaigns")
    report = read_id_list(path)
    if report.bad_lines:
        raise BadInput(
            f"{path}: {len(report.bad_lines)} bad lines, nothing assigned; first: "
            f"line {report.bad_lines[0][0]}: {report.bad_lines[0][1]}"
        )
    if not report.found:
        raise BadInput(f"{path}: none of the {len(report.ids)} EMR ids is in the patient directory; nothing assigned")
    result = assign_ids(ctx, campaign_id, report.ids)
    return result


# --- broadcast publish / expire (also run by the scheduler) --------------------------


def _ensure_put(c: Campaign, now: datetime) -> None:
    current = Delivery.select().where(
        Delivery.campaign == c,
        Delivery.kind == DeliveryKind.PUT,
        Delivery.content_version == c.content_version,
        Delivery.status.in_((DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.RETRYING, DeliveryState.SENT)),
    )
    if not current.exists():
        Delivery.create(
            kind=DeliveryKind.PUT, campaign=c, due_at=now, created_at=now, content_version=c.content_version
        )


def _insert_deliveries(kind: str, c: Campaign, recipients: pw.Select, due_at: datetime, now: datetime) -> None:
    """One delivery of `kind` per recipient id selected by `recipients`, in one statement."""
    q = Recipient.select(
        pw.Value(kind),
        pw.Value(c.id),
        Recipient.id,
        sql_uuid(),
        pw.Value(DeliveryState.PENDING),
        pw.Value(due_at),
        pw.Value(0),
        pw.Value(now),
        pw.Value(c.content_version),
        pw.Value(""),
    ).where(Recipient.id.in_(recipients))
    (
        Delivery.insert_from(
            q,
            [
                Delivery.kind,
                Delivery.campaign,
                Delivery.recipient,
                Delivery.idempotency_key,
                Delivery.status,
                Delivery.due_at,
                Delivery.attempts,
                Delivery.created_at,
                Delivery.content_version,
                Delivery.last_error,
            ],
        )
        .returning()
        .execute()
    )


def _publish(c: Campaign, now: datetime) -> int:
    """Show a live broadcast to every eligible recipient not yet in the feed (the campaign
    is locked by the caller, so the set does not change between these statements)."""
    waiting = Recipient.select(Recipient.id).where(
        Recipient.campaign == c,
        _feed_eligible(),
        Recipient.in_feed == False,  # noqa: E712
    )
    n = waiting.count()
    if n:
        _ensure_put(c, now)
        _insert_deliveries(DeliveryKind.PUBLISH, c, waiting, now, now)
        (
            Recipient.update(in_feed=True)
            .where(Recipient.campaign == c, _feed_eligible(), Recipient.in_feed == False)  # noqa: E712
            .execute()
        )
    return n


def _live_broadcasts(ctx: Ctx) -> list[tuple[Campaign, str]]:
    """Broadcasts not yet expired whose window may have opened, with their window state."""
    q = Campaign.select().where(
        Campaign.kind == "broadcast",
        Campaign.expired_at.is_null(True),
        Campaign.starts_on <= ctx.today() + timedelta(days=1),
    )
    tz = ctx.config.clinic.tz
    return [(c, window_state(c, ctx.now(), tz)) for c in q]


def publish_due(ctx: Ctx) -> int:
    """Publish every live broadcast to recipients assigned before its window opened (idempotent)."""
    n = 0
    for c, state in _live_broadcasts(ctx):
        if state != LIVE:
            continue
        with write_transaction():
            c = get_locked(c.id)
            if c.expired_at is not None:
                continue
            now = ctx.now()
            n += _publish(c, now)
            if c.published_at is None:
                c.published_at = now
                c.save(only=[Campaign.published_at])
    return n


def expire_due(ctx: Ctx) -> int:
    """Remove ended broadcasts from every feed, once; their unsent pushes are dropped."""
    n = 0
    for c, state in _live_broadcasts(ctx):
        if state != ENDED:
            continue
        with write_transaction():
            get_locked(c.id)
            now = ctx.now()
            claimed = (
                Campaign.update(expired_at=now).where(Campaign.id == c.id, Campaign.expired_at.is_null(True)).execute()
            )
            if not claimed:
                continue  # another scheduler did it
            open_ = Delivery.select(Delivery.id).where(
                Delivery.campaign == c,
                Delivery.kind.in_((DeliveryKind.PUSH, DeliveryKind.PUBLISH, DeliveryKind.PUT)),
                Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING)),
            )
            pushes = Delivery.select(Delivery.recipient).where(
                Delivery.id.in_(open_), Delivery.kind == DeliveryKind.PUSH
            )
            Recipient.update(status=RecipientStatus.SKIPPED, reason=R_WINDOW_ENDED, next_attempt_at=None).where(
                Recipient.id.in_(pushes), Recipient.status.in_((RecipientStatus.QUEUED, RecipientStatus.RETRYING))
            ).execute()
            Delivery.update(status=DeliveryState.CANCELLED, last_error=R_WINDOW_ENDED).where(
                Delivery.id.in_(open_)
            ).execute()
            if Recipient.select().where(Recipient.campaign == c, Recipient.in_feed == True).exists():  # noqa: E712
                Delivery.create(
                    kind=DeliveryKind.EXPIRE, campaign=c, due_at=now, created_at=now, content_version=c.content_version
                )
                n += 1
    return n


# --- remove -------------------------------------------------------------------------


def _recipient(c: Campaign, emr_id: str) -> Recipient:
    r = Recipient.select().join(Patient).where(Recipient.campaign == c, Patient.emr_id == emr_id.strip()).first()
    if r is None:
        raise NotFound(f"patient {emr_id!r} is not a recipient of campaign {c.id}")
    return r


def _removal_outcome(c: Campaign, r: Recipient) -> str:
    """What taking this recipient off the campaign means for them (said before and after)."""
    what = "the invitation email" if c.kind == "invitation" else "the push notification"
    if r.status == RecipientStatus.REMOVED:
        return "they were already removed"
    if r.status == RecipientStatus.SENT or r.sent_at:
        out = [f"{what} was already sent to them; they are only taken off the list"]
    elif (
        Delivery.select()
        .where(
            Delivery.recipient == r,
            Delivery.status == DeliveryState.SENDING,
            Delivery.kind.in_((DeliveryKind.EMAIL, DeliveryKind.PUSH)),
        )
        .exists()
    ):
        out = [f"{what} is being sent at this moment and may still arrive"]
    else:
        out = [f"they will not receive {what}"]
    if r.in_feed and c.expired_at is None:
        out.append("the message is removed from their Broadcasts feed in the app")
    return "; ".join(out)


def removal_effect(ctx: Ctx, campaign_id, emr_id: str) -> str:
    """What `remove` would do to this patient, for a confirmation; changes nothing."""
    ctx.require("campaigns")
    c = get(campaign_id)
    return _removal_outcome(c, _recipient(c, emr_id))


def remove(ctx: Ctx, campaign_id, emr_id: str) -> str:
    """Take one patient off the campaign; returns what that means for them."""
    ctx.require("campaigns")
    with write_transaction():
        c = get_locked(campaign_id)
        r = _recipient(c, emr_id)
        if r.status == RecipientStatus.REMOVED:
            raise BadInput(f"patient {emr_id!r} was already removed from campaign {c.id}")
        outcome = _removal_outcome(c, r)
        now = ctx.now()
        cancelled = (
            Delivery.update(status=DeliveryState.CANCELLED, last_error="recipient removed")
            .where(Delivery.recipient == r, Delivery.status.in_((DeliveryState.PENDING, DeliveryState.RETRYING)))
            .execute()
        )
        if r.in_feed and c.expired_at is None:
            _insert_deliveries(
                DeliveryKind.UNPUBLISH, c, Recipient.select(Recipient.id).where(Recipient.id == r.id), now, now
            )
        Recipient.update(status=RecipientStatus.REMOVED, removed_at=now, in_feed=False, next_attempt_at=None).where(
            Recipient.id == r.id
        ).execute()
        c.updated_at = now
        c.save(only=[Campaign.updated_at])
        audit.record(ctx, "remove", c.id, emr_id=emr_id, previous_status=r.status, cancelled=cancelled)
    return outcome


# --- start --------------------------------------------------------------------------


def _waiting(c: Campaign) -> pw.Select:
    return (
        Recipient.select(Recipient.id)
        .join(Patient)
        .where(Recipient.campaign == c, Recipient.status == RecipientStatus.ASSIGNED)
    )


def start_plan(ctx: Ctx, campaign_id) -> StartPlan:
    """What `start` would do now: sends, skips by reason, already sent."""
    ctx.require("campaigns")
    c = get(campaign_id)
    reason = _reason_case(_start_rules(c.kind))
    rows = (
        Recipient.select(reason, pw.fn.COUNT(Recipient.id))
        .join(Patient)
        .where(Recipient.campaign == c, Recipient.status == RecipientStatus.ASSIGNED)
        .group_by(pw.SQL("1"))
        .tuples()
    )
    by_reason = Counter(dict(rows))
    plan = StartPlan(will_send=by_reason.pop("", 0), skipped=dict(by_reason))
    plan.already_sent = (
        Recipient.select().where(Recipient.campaign == c, Recipient.status == RecipientStatus.SENT).count()
    )
    plan.in_progress = (
        Recipient.select()
        .where(Recipient.campaign == c, Recipient.status.in_((RecipientStatus.QUEUED, RecipientStatus.RETRYING)))
        .count()
    )
    if c.kind == "broadcast":
        opens, _ = window_bounds(c, ctx.config.clinic.tz)
        plan.queued_for = max(opens, ctx.now())
    else:
        plan.queued_for = ctx.now()
    return plan


def _check_startable(ctx: Ctx, c: Campaign) -> None:
    if c.archived:
        raise Refused(f"campaign {c.id} is archived")
    if window_state(c, ctx.now(), ctx.config.clinic.tz) == ENDED:
        raise Refused(f"campaign {c.id}'s window ended on {c.ends_on}; it cannot be started")
    problems = template_problems(ctx, c.kind, get_templates(c.id))
    if problems:
        raise Refused(f"campaign {c.id}'s template has problems; fix them first: {problems[0]}")


def start(ctx: Ctx, campaign_id) -> StartPlan:
    """Send to every recipient not yet sent to (SPEC §4); returns what was done."""
    ctx.require("campaigns")
    with write_transaction():
        c = get_locked(campaign_id)
        _check_startable(ctx, c)
        plan = start_plan(ctx, c.id)
        if plan.will_send == 0 and not plan.skipped:
            raise Refused(
                f"nothing to start: no recipient of campaign {c.id} is waiting "
                f"({plan.already_sent} already sent, {plan.in_progress} in progress)"
            )
        now = ctx.now()
        rules = _start_rules(c.kind)
        if c.kind == "broadcast":
            # a patient who may no longer see the broadcast comes off their feed
            gone = _waiting(c).where(Recipient.in_feed == True, _forbidden(_assign_rules(c.kind)))  # noqa: E712
            _insert_deliveries(DeliveryKind.UNPUBLISH, c, gone, now, now)
            Recipient.update(in_feed=False).where(Recipient.id.in_(gone)).execute()
        # those a rule forbids now are skipped with the reason; the others are queued
        (
            Recipient.update(
                status=RecipientStatus.SKIPPED,
                reason=Patient.select(_reason_case(rules)).where(Patient.id == Recipient.patient),
            )
            .where(Recipient.id.in_(_waiting(c).where(_forbidden(rules))))
            .execute()
        )
        Recipient.update(status=RecipientStatus.QUEUED, queued_at=now, reason="").where(
            Recipient.id.in_(_waiting(c))
        ).execute()
        kind = DeliveryKind.EMAIL if c.kind == "invitation" else DeliveryKind.PUSH
        has_one = Delivery.select(Delivery.id).where(
            Delivery.recipient == Recipient.id, Delivery.kind == kind, Delivery.status != DeliveryState.CANCELLED
        )
        queued_now = Recipient.select(Recipient.id).where(
            Recipient.campaign == c, Recipient.status == RecipientStatus.QUEUED, ~pw.fn.EXISTS(has_one)
        )
        _insert_deliveries(kind, c, queued_now, plan.queued_for, now)
        if c.first_started_at is None:
            c.first_started_at = now
        c.last_started_at = c.updated_at = now
        c.save()
        audit.record(ctx, "start", c.id, will_send=plan.will_send, skipped=plan.skipped, queued_for=plan.queued_for)
    return plan


# --- reads --------------------------------------------------------------------------


def counts(campaign_id) -> dict[str, int]:
    q = (
        Recipient.select(Recipient.status, pw.fn.COUNT(Recipient.id))
        .where(Recipient.campaign == int(campaign_id))
        .group_by(Recipient.status)
        .tuples()
    )
    return dict(q)


def page(
    campaign_id, *, status: str | None = None, search: str = "", after_id: int | None = None, limit: int | None = 200
) -> list[RecipientRow]:
    """Recipients in id order, one page at a time (keyset: pass the last row's id)."""
    from .csvio import fold

    q = (
        Recipient.select(
            Recipient.id,
            Patient.emr_id,
            Patient.first_name,
            Patient.last_name,
            Recipient.status,
            Recipient.reason,
            Recipient.added_at,
            Recipient.sent_at,
            Recipient.next_attempt_at,
        )
        .join(Patient)
        .where(Recipient.campaign == int(campaign_id))
        .order_by(Recipient.id)
    )
    if status:
        if status not in tuple(RecipientStatus):
            raise BadInput(f"unknown status {status!r}; expected one of {', '.join(tuple(RecipientStatus))}")
        q = q.where(Recipient.status == status)
    if search.strip():
        s = search.strip()
        q = q.where(Patient.emr_id.startswith(s) | Patient.search_name.contains(fold(s)))
    if after_id is not None:
        q = q.where(Recipient.id > after_id)
    if limit:
        q = q.limit(limit)
    return [
        RecipientRow(i, emr, f"{fn} {ln}".strip(), st, rs, added, sent, nxt)
        for i, emr, fn, ln, st, rs, added, sent, nxt in q.tuples()
    ]
