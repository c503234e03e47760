"""Test send (SPEC §11): a staff member sees a campaign's message, rendered for one
patient, in their own inbox or app before the patients do.

`send_test` writes one delivery of kind `test_email` (to `[users.LOGIN] email`, or
`to`) or `test_broadcast` (to `[users.LOGIN] app_id`) naming the patient it renders
for; the dispatcher sends it (core.delivery.testsend_kinds). No recipient row, no status
change; audited. Refused with one line when the staff member has nowhere to receive it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core import audit
from core.campaigns import get, get_templates
from core.campaigns.actions import require_sendable_template
from core.context import Ctx
from core.db import write_transaction
from core.enums import DeliveryKind, Kind, Permission
from core.errors import BadInput, NotFound, Refused
from core.i18n import _
from core.models import Delivery, Patient
from core.patients.lookup import get_by_emr
from core.textcheck import quoted_value

_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass
class TestSend:
    __test__ = False  # not a pytest class

    delivery_id: int
    kind: str  # test_email / test_broadcast
    to: str  # the address or app account it goes to
    patient: str  # the EMR id it renders for

    def words(self) -> str:
        """What was queued, for people — the TUI's notice and the command line's output."""
        if self.kind == DeliveryKind.TEST_EMAIL:
            said = _("Test email for patient {patient} queued to {to}; the scheduler sends it within moments")
        else:
            said = _(
                "Test push and feed entry (for an hour) for patient {patient} queued to {to}; "
                "the scheduler sends it within moments"
            )
        return said.format(patient=self.patient, to=self.to)

    def to_json(self) -> dict:
        return {"kind": self.kind, "to": self.to, "patient": self.patient, "delivery": self.delivery_id}


def destination(ctx: Ctx, kind: str) -> str:
    """Where a test of a campaign of `kind` goes for this staff member ("" = nowhere yet)."""
    return ctx.user.email if kind == Kind.INVITATION else ctx.user.app_id


def check_destination(ctx: Ctx, kind: str, to: str | None = None, *, field: str = "--to") -> str:
    """Where a test of a campaign of `kind` goes (`to`, else the staff member's own
    address or app account); BadInput for a bad `to`, Refused when there is nowhere.
    `field` names where `to` is typed, as its reader knows it: the command line's option
    (`--to`), or a screen's field."""
    login = ctx.user.login
    if kind == Kind.INVITATION:
        target = (to or "").strip() or ctx.user.email
        if to is not None and not _ADDRESS.match(target):
            raise BadInput(
                _("{option}: expected an email address like name@example.org, got {value}").format(
                    option=field, value=quoted_value(to)
                )
            )
        if not target:
            raise Refused(
                _(
                    '{login} has no address for test sends: add email = "…" under [users.{login}] in {path}, '
                    "or give one in {field}"
                ).format(login=login, path=ctx.config.path or "clinicast.toml", field=field)
            )
        return target
    if to is not None:
        raise BadInput(
            _("{option}: a broadcast's test goes to your app account ([users.{login}] app_id), not an address").format(
                option=field, login=login
            )
        )
    if not ctx.user.app_id:
        raise Refused(
            _(
                '{login} has no app account for broadcast test sends: add app_id = "…" under [users.{login}] in {path}'
            ).format(login=login, path=ctx.config.path or "clinicast.toml")
        )
    return ctx.user.app_id


def _patient(emr_id: str | None, patient_id: int | None) -> Patient | None:
    """The patient a test is for: the directory's `patient_id` (the TUI's pickers), else
    the one with EMR id `emr_id`; None when there is none."""
    if patient_id is not None:
        return Patient.get_or_none(Patient.id == patient_id)
    try:
        return get_by_emr(emr_id or "")
    except NotFound:
        return None


def subject_prefix(ctx: Ctx, campaign_id, emr_id: str = "", *, patient_id: int | None = None) -> str | None:
    """The mark a test's subject (or push title) starts with — "[TEST]" or "[ESSAI]",
    in the language this patient gets the message in (what the dialog promises is what
    arrives); None when there is no such patient."""
    from core.delivery.kinds import language_for
    from core.delivery.testsend_kinds import PREFIX

    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    patient = _patient(emr_id, patient_id)
    if patient is None:
        return None
    lang = language_for(get_templates(ctx, c.id), patient.language, ctx.config.clinic.default_language)
    return PREFIX[lang].strip()


def send_test(
    ctx: Ctx,
    campaign_id,
    emr_id: str | None = None,
    to: str | None = None,
    *,
    patient_id: int | None = None,
    field: str = "--to",
) -> TestSend:
    """Queue a test of the campaign's message for patient `emr_id` (or the directory's
    `patient_id`, as the TUI's pickers give it), to the staff member; `field` names where
    `to` was typed (check_destination)."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    # a picked patient since gone from the directory: looked up by the id typed, whose
    # absence is said as every other lookup by EMR id says it (core.patients.lookup)
    picked = Patient.get_or_none(Patient.id == patient_id) if patient_id is not None else None
    patient = picked or get_by_emr(emr_id or "")
    kind = DeliveryKind.TEST_EMAIL if c.kind == Kind.INVITATION else DeliveryKind.TEST_BROADCAST
    target = check_destination(ctx, c.kind, to, field=field)
    require_sendable_template(ctx, c)
    now = ctx.now()
    with write_transaction():
        d = Delivery.create(
            kind=kind,
            campaign=c,
            recipient=None,
            patient=patient,
            target=target,
            requested_by=ctx.user.login,
            due_at=now,
            created_at=now,
            content_version=c.content_version,
        )
        audit.record(ctx, "test_send", c.id, kind=kind, to=target, emr_id=patient.emr_id, delivery=d.id)
    return TestSend(d.id, kind, target, patient.emr_id)
