"""Claimed rows made into jobs, on the database thread: the campaigns and templates they
need read once, a broadcast's pushes grouped by language into requests of 500, and what
cannot be sent at all answered at once — an email whose earlier hand-over left no result
(its dispatcher died) has an unknown outcome and goes to the retry policy instead of out
again; a row whose campaign is gone is cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.channels import Outcome
from core.delivery.kinds import Handler, Job
from core.delivery.results import Guard, Result, record
from core.delivery.retry import Policy
from core.delivery.store import Claimed, fetch, one_of
from core.enums import DeliveryKind, DeliveryState
from core.models import Campaign, Patient, Recipient, Template
from core.reasons import Detail, Reason, detail


class Preparer(Protocol):
    """What it uses of its dispatcher (core.delivery.dispatcher.Dispatcher)."""

    policy: Policy

    def handler(self, kind: DeliveryKind) -> Handler: ...

    def log_results(self, results: list[Result]) -> None: ...


def prepare(d: Preparer, claimed: list[Claimed], now: datetime) -> tuple[list[Job], dict[DeliveryState, int]]:
    """The jobs of these claimed rows, and the counts of the results written for the rest."""
    cids = sorted({c.campaign_id for c in claimed})
    campaigns = {c.id: c for c in Campaign.select().where(Campaign.id.in_(cids))}
    templates: dict[int, dict[str, dict[str, str]]] = {cid: {} for cid in cids}
    for tpl in Template.select().where(Template.campaign.in_(cids)):
        templates[tpl.campaign_id][tpl.language] = {
            "subject": tpl.subject,
            "title": tpl.title,
            "body": tpl.body,
            "push": tpl.push,
        }
    push_ids = [c.recipient_id for c in claimed if c.kind == DeliveryKind.PUSH and c.recipient_id]
    languages: dict[int, str] = {}
    if push_ids:
        by_recipient = dict(
            fetch(Recipient.select(Recipient.id, Patient.language).join(Patient).where(one_of(Recipient.id, push_ids)))
        )
        languages = {c.id: by_recipient.get(c.recipient_id, "") for c in claimed if c.recipient_id}
    unknown: list[Result] = []
    groups: dict[tuple[DeliveryKind, int], list[Claimed]] = {}
    for c in claimed:
        if c.orphaned and c.kind.by_email:
            # handed to the SMTP server by a dispatcher that died before the answer
            unknown.append(_orphan(d, c, now))
            continue
        groups.setdefault((c.kind, c.campaign_id), []).append(c)
    jobs: list[Job] = []
    gone: list[Result] = []
    for (kind, cid), rows in groups.items():
        camp = campaigns.get(cid)
        if camp is None:
            gone += [Result(r, DeliveryState.CANCELLED, Reason.DELETED) for r in rows]
            continue
        jobs += d.handler(kind).group(camp, rows, languages, templates[cid])
    written = record(unknown + gone, now, Guard.CLAIM)
    d.log_results(unknown + gone)
    return jobs, written


def _orphan(d: Preparer, c: Claimed, now: datetime) -> Result:
    outcome = Outcome.unknown(detail(Detail.DISPATCHER_STOPPED))
    x = d.policy.decide(outcome, c.attempts, c.outcomes_unknown, now, c.kind.reaches_patient)
    return Result(c, x.state, x.code, x.detail, x.due_at, x.unknown, x.problem)
