"""Reading a campaign's recipients: counts, and pages for the table and the CLI."""

from __future__ import annotations

import peewee as pw

from core.campaigns import get
from core.context import Ctx
from core.enums import Permission, RecipientStatus
from core.errors import BadInput
from core.i18n import _
from core.models import Patient, Recipient
from core.recipients.results import RecipientRow
from core.rules import Stage, detail_case, reason_case
from core.search import sql_words
from core.textcheck import quoted_value


def counts(ctx: Ctx, campaign_id: int | str) -> dict[str, int]:
    ctx.require(Permission.CAMPAIGNS)
    q = (
        Recipient.select(Recipient.status, pw.fn.COUNT(Recipient.id))
        .where(Recipient.campaign == get(campaign_id).id)
        .group_by(Recipient.status)
        .tuples()
    )
    return dict(q)


def page(
    ctx: Ctx,
    campaign_id: int | str,
    *,
    status: str | None = None,
    search: str = "",
    after_id: int | None = None,
    limit: int | None = 200,
) -> list[RecipientRow]:
    """Recipients in id order, one page at a time (keyset: pass the last row's id)."""

    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    cid = c.id
    # an assigned recipient a consent rule forbids now (an opt-out recorded since the
    # assign): the reason the next start will skip them with, said beside their status
    waiting = Recipient.status == RecipientStatus.ASSIGNED
    will_skip = pw.Case(None, [(waiting, reason_case(c.kind, Stage.SEND))], "")
    will_skip_detail = pw.Case(None, [(waiting, detail_case(c.kind, Stage.SEND))], "")
    q = (
        Recipient.select(
            Recipient.id,
            Patient.emr_id,
            Patient.first_name,
            Patient.last_name,
            Recipient.status,
            Recipient.reason_code,
            Recipient.reason,
            Recipient.added_at,
            Recipient.sent_at,
            Recipient.next_attempt_at,
            Recipient.first_copy_at,
            will_skip,
            will_skip_detail,
        )
        .join(Patient)
        .where(Recipient.campaign == cid)
        .order_by(Recipient.id)
    )
    if status:
        if status not in tuple(RecipientStatus):
            raise BadInput(
                _("unknown status {status}; expected one of {choices}").format(
                    status=quoted_value(status), choices=", ".join(RecipientStatus)
                )
            )
        q = q.where(Recipient.status == status)
    if search.strip():
        found = Patient.emr_id.startswith(search.strip())
        by_name = sql_words(Patient.search_name, search)  # core.search: the one rule
        q = q.where(found | by_name if by_name is not None else found)
    if after_id is not None:
        q = q.where(Recipient.id > after_id)
    if limit:
        q = q.limit(limit)
    return [
        RecipientRow(i, emr, f"{fn} {ln}".strip(), st, code, detail, added, sent, nxt, first, skip, skip_detail or "")
        for i, emr, fn, ln, st, code, detail, added, sent, nxt, first, skip, skip_detail in q.tuples()
    ]
