"""Who created, started, stopped and re-invited a campaign, and when (SPEC §6): what a manager
answering « who sent this campaign? » reads beside its status, in `campaigns show` and the
campaign's screen alike. The creator is on the campaign's row; starts, stops and
re-invitations (they send too) are the audit trail's rows (core.audit.record writes one per
act, with the login and the moment; a re-invitation's says how many it queued)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core import formats
from core.campaigns.reads import get
from core.context import Ctx
from core.enums import Permission
from core.i18n import _, ngettext
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
    reinvited: Moment | None = None  # the latest re-invitation (core.recipients.reinvite): it sends too
    reinvited_count: int | None = None  # how many it queued, when its trail row says

    def to_json(self) -> dict:
        """`campaigns show --json`'s English fields: logins, and moments in UTC (ISO, "Z"); null when not."""
        out: dict = {}
        for key, m in (
            ("created", self.created),
            ("started", self.started),
            ("restarted", self.restarted),
            ("stopped", self.stopped),
            ("reinvited", self.reinvited),
        ):
            out[f"{key}_by"] = (m.by or None) if m else None
            out[f"{key}_at"] = m.at.isoformat(timespec="seconds") + "Z" if m else None
        out["reinvited_count"] = self.reinvited_count if self.reinvited else None
        return out

    def lines(self, tz: ZoneInfo, *, short: bool = False) -> list[str]:
        """Each act in words, oldest first, its moment in the clinic's zone: « démarrée le
        3 déc. 2026 à 10:00 par mlaval » (a moment inside a sentence, formats' `in_text`),
        "started Dec 3, 2026, 10:00 by mlaval". `short`: a screen's moments (the current year left out)."""
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
        if self.reinvited is not None:
            acts.append((self.reinvited, self._reinvited_words()))
        acts.sort(key=lambda act: act[0].at)  # a stop after the restart reads after it
        n = formats.number(self.reinvited_count) if self.reinvited_count is not None else ""
        return [said[0 if m.by else 1].format(when=when(m.at, tz, in_text=True), login=m.by, n=n) for m, said in acts]

    def _reinvited_words(self) -> tuple[str, str]:
        """« re-invited 3 patients 5 déc. 2026 10:00 by mlaval »: the count when the trail has it."""
        n = self.reinvited_count
        if n is None:
            return _("re-invited {when} by {login}"), _("re-invited {when}")
        return (
            ngettext("re-invited {n} patient {when} by {login}", "re-invited {n} patients {when} by {login}", n),
            ngettext("re-invited {n} patient {when}", "re-invited {n} patients {when}", n),
        )


def history(ctx: Ctx, campaign: Campaign | int) -> CampaignHistory:
    """The campaign's creator, its first and latest start, its latest stop and re-invitation: one read of
    the trail's rows of this campaign (indexed by campaign)."""
    ctx.require(Permission.CAMPAIGNS)
    if not isinstance(campaign, Campaign):
        campaign = get(campaign)
    rows = list(
        AuditLog.select(AuditLog.action, AuditLog.user, AuditLog.at, AuditLog.detail)
        .where(AuditLog.campaign == campaign.id, AuditLog.action.in_(("start", "stop", "reinvite")))
        .order_by(AuditLog.at, AuditLog.id)
        .tuples()
    )
    starts = [Moment(user, at) for action, user, at, _detail in rows if action == "start"]
    stops = [Moment(user, at) for action, user, at, _detail in rows if action == "stop"]
    reinvites = [(Moment(user, at), detail) for action, user, at, detail in rows if action == "reinvite"]
    reinvited, count = reinvites[-1] if reinvites else (None, None)
    first = starts[0] if starts else None
    if first is None and campaign.first_started_at is not None:
        first = Moment("", campaign.first_started_at)  # started, and the trail does not say by whom
    return CampaignHistory(
        created=Moment(campaign.created_by or "", campaign.created_at),
        started=first,
        restarted=starts[-1] if len(starts) > 1 else None,
        stopped=stops[-1] if stops else None,
        reinvited=reinvited,
        reinvited_count=_will_send(count) if reinvited else None,
    )


def _will_send(detail: str | None) -> int | None:
    """How many a re-invitation queued, from its trail row's detail (core.recipients.reinvite
    writes `will_send`); None when the row does not say."""
    try:
        n = json.loads(detail or "{}").get("will_send")
    except (ValueError, AttributeError):
        return None
    return n if isinstance(n, int) and not isinstance(n, bool) else None
