"""The consent rules (SPEC §4, §10), written once.

`RULES` is the one table: each rule names the reason it gives, the campaign kind and
the *stages* it applies at, and the SQL condition (on `Patient`) that forbids. Every
user of a rule derives from it:

- assign and start write `reason_case(kind, stage)` / `detail_case(...)` straight into
  their set-based statements (`skipped` with the reason);
- the hand-over (core.delivery.handover), immediately before a transport call, puts the
  same CASE in the query that locks the rows it is about to send.

Stages: `FEED` — may this patient see the broadcast in their feed (assign, publish);
`SEND` — may this email or push go to them (start, and the moment of sending); `SEND`
includes every `FEED` rule of the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

import peewee as pw

from core.enums import Kind, OptOutChannel, RecipientStatus
from core.models import OptOut, Patient, Recipient
from core.reasons import Reason


class Stage(StrEnum):
    FEED = "feed"  # assign (either kind), and a broadcast's publish
    SEND = "send"  # start, and the moment of sending an email or a push


# Each condition is a named function called when a query is built, never at import: one
# place per rule, and `make mutants` (mutmut) can mutate each of them.


def _no_app() -> pw.Expression:
    return Patient.app_id.is_null(True) | (Patient.app_id == "")


def _on_app() -> pw.Expression:
    return ~_no_app()


def _no_marketing_consent() -> pw.Expression:
    return Patient.marketing_consent == False  # noqa: E712 - SQL, not Python truth


def _push_off() -> pw.Expression:
    return Patient.push_enabled == False  # noqa: E712


def _do_not_contact() -> pw.Expression:
    return Patient.do_not_contact == True  # noqa: E712


def _no_email() -> pw.Expression:
    return Patient.email.is_null(True) | (Patient.email == "")


def _active_opt_outs(channels: tuple[OptOutChannel, ...]) -> pw.ModelSelect:
    return OptOut.select().where(
        OptOut.patient == Patient.id,
        OptOut.cleared_at.is_null(True),
        OptOut.channel.in_([*channels, OptOutChannel.ALL]),
    )


def _opted_out(*channels: OptOutChannel) -> pw.Expression:
    return pw.fn.EXISTS(_active_opt_outs(channels).select(pw.SQL("1")))


def _opt_out_detail(*channels: OptOutChannel) -> pw.Expression:
    """`YYYY-MM-DD|source` of the patient's earliest active opt-out of these channels."""
    return (
        _active_opt_outs(channels)
        .select(pw.Cast(OptOut.day, "TEXT").concat("|").concat(OptOut.source))
        .order_by(OptOut.at)
        .limit(1)
    )


@dataclass(frozen=True)
class Rule:
    reason: Reason
    kind: Kind
    stage: Stage
    forbids: Callable[[], pw.Expression]
    detail: Callable[[], pw.Expression] | None = None


_E, _F, _P = OptOutChannel.EMAIL, OptOutChannel.FEED, OptOutChannel.PUSH

# In order: a patient is skipped with the first rule that forbids.
RULES: tuple[Rule, ...] = (
    Rule(Reason.NO_APP_ACCOUNT, Kind.BROADCAST, Stage.FEED, _no_app),
    Rule(Reason.NO_MARKETING_CONSENT, Kind.BROADCAST, Stage.FEED, _no_marketing_consent),
    Rule(Reason.OPTED_OUT_FEED, Kind.BROADCAST, Stage.FEED, partial(_opted_out, _F), partial(_opt_out_detail, _F)),
    Rule(Reason.PUSH_OFF, Kind.BROADCAST, Stage.SEND, _push_off),
    Rule(Reason.OPTED_OUT_PUSH, Kind.BROADCAST, Stage.SEND, partial(_opted_out, _P), partial(_opt_out_detail, _P)),
    Rule(Reason.DO_NOT_CONTACT, Kind.INVITATION, Stage.FEED, _do_not_contact),
    Rule(Reason.OPTED_OUT_EMAIL, Kind.INVITATION, Stage.FEED, partial(_opted_out, _E), partial(_opt_out_detail, _E)),
    Rule(Reason.ALREADY_ON_APP, Kind.INVITATION, Stage.FEED, _on_app),
    Rule(Reason.NO_EMAIL, Kind.INVITATION, Stage.FEED, _no_email),
)

# a broadcast recipient skipped for one of these still sees the message in the feed
FEED_ONLY = (Reason.PUSH_OFF, Reason.OPTED_OUT_PUSH)


def rules(kind: str, stage: Stage) -> list[Rule]:
    stages = (Stage.FEED,) if stage == Stage.FEED else (Stage.FEED, Stage.SEND)
    return [r for r in RULES if r.kind == kind and r.stage in stages]


def reason_case(kind: str, stage: Stage) -> pw.Case:
    """The code of the first rule that forbids, else '' (an expression on Patient)."""
    return pw.Case(None, [(r.forbids(), r.reason.value) for r in rules(kind, stage)], "")


def detail_case(kind: str, stage: Stage) -> pw.Case:
    """The detail that goes with `reason_case` (an opt-out's day and source), else ''."""
    return pw.Case(None, [(r.forbids(), r.detail() if r.detail else "") for r in rules(kind, stage)], "")


def forbidden(kind: str, stage: Stage) -> pw.Expression:
    """True when any rule of this stage forbids (an expression on Patient)."""
    conditions = [r.forbids() for r in rules(kind, stage)]
    expr = conditions[0]
    for c in conditions[1:]:
        expr = expr | c
    return expr


def in_feed() -> pw.Expression:
    """Recipients who see a live broadcast in their feed: everyone assigned, whether or not
    a push went out, except the removed, those a feed rule skipped and unknown accounts."""
    return (
        (Recipient.status != RecipientStatus.REMOVED)
        & ((Recipient.status != RecipientStatus.SKIPPED) | Recipient.reason_code.in_(FEED_ONLY))
        & (Recipient.reason_code != Reason.UNKNOWN_APP_ACCOUNT)
    )
