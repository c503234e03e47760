"""The hand-over: the last moment before a transport call, in one transaction.

For each job about to be sent, its rows are locked (PostgreSQL `FOR UPDATE`; SQLite's
write transaction), read fresh — delivery, recipient, patient, the consent rules of
`core.rules` evaluated for that patient now — and checked by the kind's handler:
still this claim's and not cancelled (a stop, a removal, an opt-out cancel the row
itself, so this check sees them), allowed by consent and opt-outs, inside the
broadcast's window and the sending hours. The rows that pass are marked handed over
(`handed_token`, `handed_at`, `attempts` + 1), their invitations made; the others get
their result (skipped, cancelled, deferred) in the same transaction.

Several jobs that reach this point together share one transaction (workers that free
up at once), so an email costs one small write here and one when its result comes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import peewee as pw

from core.db import is_postgres, joined_transaction
from core.delivery import invitations
from core.delivery.results import Guard, Result, record
from core.delivery.store import Claimed, Ids, by_ids, fetch, ids_sql, one_of
from core.enums import DeliveryState
from core.models import Delivery, Patient, Recipient, database
from core.optouts import unsubscribe
from core.reasons import Detail, Reason, detail
from core.rules import detail_case, reason_case


@dataclass(slots=True)
class Fresh:
    """A row as the database has it at the hand-over (slots: one is made for every row
    handed over, and a slotted one costs half as much to make)."""

    status: str
    token: str | None
    attempts: int
    recipient_status: str | None = None
    recipient_reason: str = ""
    in_feed: bool = False
    patient_id: int | None = None
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    email: str = ""
    app_id: str | None = None
    rule: str = ""  # the consent rule that forbids sending to this patient now (a reason code)
    rule_detail: str = ""
    invitation: invitations.InvitationInfo | None = None
    unsubscribe: str = ""  # the patient's unsubscribe token (an email's link)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class HandOver:
    """What a handler's `check` decides for the rows of one job."""

    now: datetime
    fresh: dict[int, Fresh]
    keep: list[Claimed] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)

    def send(self, row: Claimed) -> None:
        self.keep.append(row)

    def skip(self, row: Claimed, code: str, detail: str = "") -> None:
        self.results.append(Result(row, DeliveryState.SKIPPED, code, detail))

    def cancel(self, row: Claimed, code: str) -> None:
        self.results.append(Result(row, DeliveryState.CANCELLED, code))

    def fail(self, row: Claimed, code: str, detail: str = "") -> None:
        self.results.append(Result(row, DeliveryState.FAILED, code, detail))

    def done(self, row: Claimed) -> None:
        """Nothing to send, and nothing left to do (e.g. hiding from a deleted account)."""
        self.results.append(Result(row, DeliveryState.SENT))

    def defer(self, row: Claimed, due_at: datetime) -> None:
        """Not now, and not an attempt: due again at `due_at`."""
        self.results.append(Result(row, DeliveryState.PENDING, due_at=due_at))


def _reads(jobs: list) -> dict[tuple, list[int]]:
    """The jobs' row ids by kind of read (the consent rules of a stage and campaign kind)."""
    reads: dict[tuple, list[int]] = {}
    for job in jobs:
        h = job.handler
        reads.setdefault((h.stage, job.campaign.kind, h.via_recipient), []).extend(r.id for r in job.rows)
    return reads


def _fresh(reads: dict[tuple, list[int]], lock: bool = False) -> dict[int, Fresh]:
    """The rows of all these jobs as the database has them now: one query for each kind
    of read, whatever the number of jobs. `lock` (PostgreSQL, one kind of read): the read
    locks its delivery rows in id order itself, the order every hand-over and cancel
    locks them in."""
    out: dict[int, Fresh] = {}
    for (stage, campaign_kind, via_recipient), ids in reads.items():
        out.update(_read(ids, stage, campaign_kind, via_recipient, lock))
    return out


def _columns(stage, campaign_kind) -> list:
    cols = [
        Delivery.id,
        Delivery.status,
        Delivery.claim_token,
        Delivery.attempts,
        Recipient.status,
        Recipient.reason_code,
        Recipient.in_feed,
        Patient.id,
        Patient.first_name,
        Patient.last_name,
        Patient.language,
        Patient.email,
        Patient.app_id,
    ]
    if stage is not None:
        cols.append(reason_case(campaign_kind, stage))
    return cols


def _read(ids: list[int], stage, campaign_kind, via_recipient: bool, lock: bool = False) -> dict[int, Fresh]:
    patient_of = Recipient.patient if via_recipient else Delivery.patient

    def query(*columns):
        return (
            Delivery.select(*columns)
            .join(Recipient, on=(Recipient.id == Delivery.recipient), join_type=pw.JOIN.LEFT_OUTER)
            .switch(Delivery)
            .join(Patient, on=(Patient.id == patient_of), join_type=pw.JOIN.LEFT_OUTER)
        )

    out = {}
    ruled = stage is not None

    def build(marks):  # built once a shape
        q = query(*_columns(stage, campaign_kind)).where(one_of(Delivery.id, marks))
        return q.order_by(Delivery.id).for_update(of=Delivery) if lock else q

    sql, params = by_ids(("handover", stage, campaign_kind, via_recipient, is_postgres(), lock), build, ids)
    for row in database.execute_sql(sql, params).fetchall():
        out[row[0]] = Fresh(
            row[1],
            row[2],
            row[3],
            row[4],
            row[5] or "",
            bool(row[6]),
            row[7],
            row[8] or "",
            row[9] or "",
            row[10] or "",
            row[11] or "",
            row[12],
            (row[13] or "") if ruled else "",
        )
    forbidden = [i for i, f in out.items() if f.rule]
    if forbidden:  # the detail of a rule that forbids (an opt-out's day): read for those rows only
        q = query(Delivery.id, detail_case(campaign_kind, stage)).where(Delivery.id.in_(Ids(forbidden)))
        for i, detail in fetch(q):
            out[i].rule_detail = detail or ""
    return out


def hand_over(jobs: list, now: datetime, app_url: str, max_attempts: int) -> list:
    """Check and hand over every job's rows; each job's `handed` and `fresh` are set.
    One transaction for all of them (the caller's, if one is open), one fresh read."""
    with joined_transaction():
        reads = _reads(jobs)
        # PostgreSQL: the rows locked in id order, by the fresh read itself when there is
        # one kind of read (the usual: one statement less a hand-over), else first
        if is_postgres() and len(reads) > 1:
            t = Delivery._meta.table_name
            database.execute_sql(  # the ids as one array parameter (see store.one_of)
                f"SELECT id FROM {t} WHERE id = ANY({database.param}) ORDER BY id FOR UPDATE",
                [sorted(r.id for job in jobs for r in job.rows)],
            )
        immediate: list[Result] = []
        every = _fresh(reads, lock=is_postgres() and len(reads) == 1)
        handed: dict[str, list[int]] = {}
        for job in jobs:
            fresh = {r.id: every[r.id] for r in job.rows if r.id in every}
            ho = HandOver(now, fresh)
            mine = []
            for r in job.rows:
                f = fresh.get(r.id)
                # a stop, a removal, an opt-out or another dispatcher took it: theirs now
                if f is None or f.status != DeliveryState.SENDING or f.token != r.token:
                    continue
                if f.attempts >= max_attempts:  # e.g. handed over again and again by dispatchers that died
                    ho.fail(r, Reason.SEND_ERROR, detail(Detail.GAVE_UP, n=f.attempts))
                    continue
                mine.append(r)
            job.handler.check(job, mine, ho)
            job.handler.pace(ho)
            for r in ho.keep:
                handed.setdefault(r.token, []).append(r.id)
            job.handed, job.fresh = ho.keep, fresh
            immediate += ho.results
        emails = [
            invitations.ForEmail(r.id, r.recipient_id, job.fresh[r.id].patient_id, r.campaign_id)
            for job in jobs
            if job.handler.makes_invitation
            for r in job.handed
        ]
        made, tokens = _write_handed(handed, emails, now, app_url)
        record(immediate, now, Guard.CLAIM)
        for job in jobs:
            for r in job.handed:
                if r.id in made:
                    job.fresh[r.id].invitation = made[r.id]
                    job.fresh[r.id].unsubscribe = tokens.get(job.fresh[r.id].patient_id, "")
    return immediate


def _handed(token: str, ids: list[int], now: datetime) -> tuple[str, list]:
    """The UPDATE that marks a claim's rows handed over: its SQL and parameters."""
    t, p = Delivery._meta.table_name, database.param
    which, ids_params = ids_sql("id", ids)
    sql = (
        f"UPDATE {t} SET handed_token = claim_token, handed_at = {p}, attempts = attempts + 1 "
        f"WHERE claim_token = {p} AND {which}"
    )
    return sql, [now, token, *ids_params]


def _write_handed(
    handed: dict[str, list[int]], emails: list[invitations.ForEmail], now: datetime, app_url: str
) -> tuple[dict[int, invitations.InvitationInfo], dict[int, str]]:
    """Mark the rows handed over (one statement a claim), make the emails' invitations and
    their patients' unsubscribe tokens; those two by delivery and patient id. On
    PostgreSQL an email hand-over (one claim's, or the SMTP connections' joined) is one
    statement, a data-modifying WITH, instead of a round trip for each part."""
    patients = sorted({e.patient_id for e in emails})
    if emails and is_postgres() and len(emails) <= invitations.CHUNK:
        marks = [_handed(token, ids, now) for token, ids in handed.items()]
        first = invitations.FirstInsert(emails, app_url, now)
        tokens, tokens_params = unsubscribe.first_insert(patients, now)
        rows = database.execute_sql(
            "WITH "
            + "".join(f"h{n} AS ({sql}), " for n, (sql, _) in enumerate(marks))
            + f"i AS ({first.sql}), u AS ({tokens}) "
            "SELECT 'i', delivery_id, NULL FROM i UNION ALL SELECT 'u', patient_id, token FROM u",
            [v for _, params in marks for v in params] + first.params + tokens_params,
        ).fetchall()
        made = first.made(i for what, i, _ in rows if what == "i")
        got = {pid: token for what, pid, token in rows if what == "u"}
        return invitations.ensure(emails, app_url, now, made), unsubscribe.ensure(patients, now, made=got)
    for token, ids in handed.items():
        database.execute_sql(*_handed(token, ids, now))
    if not emails:
        return {}, {}
    return invitations.ensure(emails, app_url, now), unsubscribe.ensure(patients, now)
