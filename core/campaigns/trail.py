"""Who created, started and stopped a campaign, and when (SPEC §6): what a manager answering
« who sent this campaign? » reads beside its status, in `campaigns show` and the campaign's
screen alike. The creator is on the campaign's row; starts and stops are the audit trail's
rows (core.audit.record writes one per start and per stop, with the login and the moment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core import formats
from core.campaigns.reads import get
from core.context import Ctx
from core.enums import Permission
from core.i18n import _
from core.models import AuditLog, Campaign


@dataclass(frozen=True)
class Moment:
    """One act on the campaign: by whom ("" when the trail does not say) and when (naive UTC)."""

    by: str
    at: datetime


@dataclass(frozen=True)
class CampaignHistory:
    created: Moment
    started: Moment | None = None  # the first start (its messages went to most recipients)
    restarted: Moment | None = None  # the latest start, when there was more than one
    stopped: Moment | None = None  # the latest stop (before or after `restarted`: see the times)

    def to_json(self) -> dict:
        """`campaigns show --json`'s English fields: logins, and moments in UTC (ISO, "Z"); null when not."""
        out: dict = {}
        for key, m in (
            ("created", self.created),
            ("started", self.started),
            ("restarted", self.restarted),
            ("stopped", self.stopped),
        ):
            out[f"{key}_by"] = (m.by or None) if m else None
            out[f"{key}_at"] = m.at.isoformat(timespec="seconds") + "Z" if m else None
        return out

    def lines(self, tz: ZoneInfo, *, short: bool = False) -> list[str]:
        """Each act in words, oldest first, its moment in the clinic's zone: « started
        3 déc. 2026 10:00 by mlaval ». `short`: a screen's moments (the current year left out)."""
        when = formats.short_when if short else formats.when
        acts = [
            (m, said)
            for m, said in (
                (self.created, (_("created {when} by {login}"), _("created {when}"))),
                (self.started, (_("started {when} by {login}"), _("started {when}"))),
                (self.stopped, (_("stopped {when} by {login}"), _("stopped {when}"))),
                (self.restarted, (_("started again {when} by {login}"), _("started again {when}"))),
            )
            if m is not None
        ]
        acts.sort(key=lambda act: act[0].at)  # a stop after the restart reads after it
        return [said[0 if m.by else 1].format(when=when(m.at, tz), login=m.by) for m, said in acts]


def history(ctx: Ctx, campaign: Campaign | int) -> CampaignHistory:
    """The campaign's creator, its first and latest start and its latest stop: one read of
    the trail's rows of this campaign (indexed by campaign)."""
    ctx.require(Permission.CAMPAIGNS)
    if not isinstance(campaign, Campaign):
        campaign = get(campaign)
    rows = list(
        AuditLog.select(AuditLog.action, AuditLog.user, AuditLog.at)
        .where(AuditLog.campaign == campaign.id, AuditLog.action.in_(("start", "stop")))
        .order_by(AuditLog.at, AuditLog.id)
        .tuples()
    )
    starts = [Moment(user, at) for action, user, at in rows if action == "start"]
    stops = [Moment(user, at) for action, user, at in rows if action == "stop"]
    first = starts[0] if starts else None
    if first is None and campaign.first_started_at is not None:
        first = Moment("", campaign.first_started_at)  # started, and the trail does not say by whom
    return CampaignHistory(
        created=Moment(campaign.created_by or "", campaign.created_at),
        started=first,
        restarted=starts[-1] if len(starts) > 1 else None,
        stopped=stops[-1] if stops else None,
    )
