"""The audit trail an administrator reads (SPEC §6, issue #10): every change, and the
reads that expose patient data (a patient search, a preview rendered for a real
patient, `patients show`, an export).

A read is audited in its own small transaction. Reads made as you type (search, the
editor's live preview) would write a row a keystroke; `record_read` with `coalesce`
writes one row per user, action and subject within that many minutes instead.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

import peewee as pw

from core import audit
from core.config.types import Config
from core.context import Ctx
from core.db import write_transaction
from core.enums import Permission
from core.errors import BadInput
from core.i18n import _
from core.models import AuditLog, Campaign
from core.textcheck import quoted_value


def record_read(
    ctx: Ctx,
    action: str,
    campaign_id: int | None = None,
    *,
    coalesce: float = 0,
    same_detail: bool = True,
    **detail,
) -> None:
    """One audit row for a read of patient data (`coalesce` minutes: at most one row per
    user, action, campaign — and detail, unless `same_detail` is False — within them)."""
    if coalesce:
        # a plain read first: a preview refreshed as staff type must not take the write lock
        # each time (at worst two readers both write: one row too many, never one too few)
        since = ctx.now() - timedelta(minutes=coalesce)
        wanted = json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True)
        q = AuditLog.select().where(
            AuditLog.at >= since,
            AuditLog.user == ctx.user.login,
            AuditLog.action == action,
        )
        if same_detail:
            q = q.where(AuditLog.detail == wanted)
        q = q.where(AuditLog.campaign.is_null() if campaign_id is None else AuditLog.campaign == campaign_id)
        if q.exists():
            return
    with write_transaction():
        audit.record(ctx, action, campaign_id, **detail)


def search_patients(ctx: Ctx, text: str, limit: int = 20) -> list:
    """`core.patients.lookup.search` for a staff member, audited: a search that shows patients
    writes one row a minute per user at most (searching as you type is one search)."""
    from core.patients.lookup import search

    ctx.require(Permission.CAMPAIGNS)
    found = search(ctx, text, limit)
    if found:
        record_read(ctx, "patient_search", coalesce=1, same_detail=False, query=" ".join(text.split()))
    return found


@dataclass(frozen=True)
class AuditRow:
    id: int  # the row's number, as `clinicast audit verify` names a break
    at: datetime
    user: str
    action: str
    campaign_id: int | None
    detail: dict
    campaign_name: str | None = None  # the campaign's name now (the audit screen); not in --json/--csv

    def to_json(self) -> dict:
        """`clinicast audit --json`: the stored values, the row's id first as verify's breaks have it."""
        return {k: v for k, v in asdict(self).items() if k != "campaign_name"}


def parse_since(text: str | None, field: str = "--since") -> date | None:
    """The day `text` names (None for none); BadInput naming `field`, the place the day was
    typed as its reader knows it: the command line's option, or a screen's field."""
    if not text:
        return None
    from core import dates

    try:  # the one date parser: YYYY-MM-DD from 1900 to 2200, like every other day typed
        return dates.parse(text)
    except dates.DateProblem as e:
        raise BadInput(
            _("{option}: expected {what}, got {value}").format(option=field, what=e, value=quoted_value(text))
        ) from None


def read(
    ctx: Ctx,
    since: date | None = None,
    user: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditRow]:
    """The trail, oldest first (or newest first): from `since` (a day in the clinic's
    time zone), by `user`."""
    ctx.require(Permission.ADMIN)
    order = (AuditLog.at.desc(), AuditLog.id.desc()) if newest_first else (AuditLog.at, AuditLog.id)
    # each row with its campaign's name now (archived ones too; a row outlives its campaign)
    q = (
        AuditLog.select(AuditLog, Campaign.name.alias("campaign_name"))
        .join(Campaign, pw.JOIN.LEFT_OUTER, on=(Campaign.id == AuditLog.campaign))
        .order_by(*order)
        .objects()  # one flat row each: the name beside the row's own fields
    )
    if since is not None:
        q = q.where(AuditLog.at >= _naive_utc(datetime.combine(since, time(0), tzinfo=ctx.config.clinic.tz)))
    if user:
        # « MLaval » as the manager writes it finds mlaval's rows: an empty answer reads as
        # « she did nothing » (each row still shows its login as written)
        login = user.strip()
        q = q.where((AuditLog.user == login) | (pw.fn.LOWER(AuditLog.user) == login.lower()))
    if limit:
        q = q.limit(limit)
    out = []
    for a in q:
        try:
            detail = json.loads(a.detail) if a.detail else {}
        except ValueError:
            detail = {"text": a.detail}
        out.append(
            AuditRow(
                a.id,
                a.at,
                a.user,
                a.action,
                a.campaign,
                detail if isinstance(detail, dict) else {"value": detail},
                a.campaign_name,
            )
        )
    return out


def _naive_utc(aware: datetime) -> datetime:
    return aware.astimezone(UTC).replace(tzinfo=None)


def to_csv(config: Config, rows: list[AuditRow]) -> str:
    """id (the row's number, as verify names it), at (UTC, ISO), user, action, campaign,
    detail (JSON): one line a row, for a spreadsheet (core.spreadsheet: the config's
    `[exports] csv_separator`)."""
    from core import spreadsheet

    return spreadsheet.csv_text(
        config,
        ["id", "at", "user", "action", "campaign", "detail"],
        (
            [
                r.id,
                r.at.isoformat(timespec="seconds") + "Z",
                r.user,
                r.action,
                "" if r.campaign_id is None else r.campaign_id,
                json.dumps(r.detail, default=str, ensure_ascii=False, sort_keys=True),
            ]
            for r in rows
        ),
    )
