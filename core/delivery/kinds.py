"""One handler per delivery kind, in one table (`HANDLERS`).

A handler knows, for its kind:
- `group`: how claimed rows become jobs (one email each; a broadcast's publishes and
  pushes in requests of up to 500 app ids);
- `check`: what must still hold at the hand-over (core.delivery.handover), on the rows
  read fresh from the database;
- `send`: the transport call, and what its answer means for each row.

A handler sees its dispatcher only through `Tools` (what it uses: the config, the
clock, the retry policy, the sending hours, the transports and the email writer).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core import pace, templating
from core.campaigns import window_bounds
from core.channels import Mailer, Outcome
from core.channels.gateway import MAX_IDS, GatewayClient, unknown_ids
from core.config.types import Config
from core.delivery.handover import Fresh, HandOver
from core.delivery.letters import Letters
from core.delivery.results import Result
from core.delivery.retry import Policy
from core.delivery.store import Claimed
from core.enums import RECIPIENT_WAITING, DeliveryKind, DeliveryState, Kind, RecipientStatus
from core.models import Campaign
from core.optouts import unsubscribe
from core.reasons import Reason
from core.rules import FEED_ONLY, Stage

_BATCH_NS = uuid.UUID("6f1c1c1e-9d0e-4a55-9a43-3f0b7e0c2a11")


class Tools(Protocol):
    """What a handler uses of its dispatcher (core.delivery.dispatcher.Dispatcher)."""

    config: Config
    clock: Callable[[], datetime]
    policy: Policy
    letters: Letters

    @property
    def mailer(self) -> Mailer: ...

    @property
    def gateway(self) -> GatewayClient: ...

    def first_allowed(self, when: datetime) -> datetime: ...

    def mail_pool(self) -> Executor: ...


@dataclass
class Job:
    """One transport call (one email; one gateway request for up to 500 rows)."""

    handler: Handler
    campaign: Campaign
    rows: list[Claimed]
    templates: dict[str, dict[str, str]]
    language: str = ""
    target: str = ""  # a test send's address or app id (core.delivery.testsend_kinds)
    handed: list[Claimed] = field(default_factory=list)  # set at the hand-over
    fresh: dict[int, Fresh] = field(default_factory=dict)

    @property
    def by_email(self) -> bool:
        return self.handler.kind.by_email

    def batch_key(self) -> str:
        """A stable key for this exact set of rows: a retry of the same batch is a replay
        for the gateway; a different grouping is a new, harmless request."""
        if len(self.handed) == 1:
            return self.handed[0].key
        return str(uuid.uuid5(_BATCH_NS, ",".join(sorted(r.key for r in self.handed))))


def rfc3339(naive_utc: datetime) -> str:
    return naive_utc.replace(microsecond=0).isoformat() + "Z"


def language_for(templates: dict, patient_language: str | None, default: str) -> str:
    """The patient's language if its templates are written, else the clinic's default,
    else whichever language is written."""
    lang = templating.pick_language(templates, patient_language, default)
    if not any((templates.get(lang) or {}).values()):
        lang = next((lg for lg in templating.LANGUAGES if any((templates.get(lg) or {}).values())), lang)
    return lang


class Handler:
    kind: DeliveryKind
    stage: Stage | None = None  # the consent rules checked at hand-over
    via_recipient = True  # the patient is the recipient's (test sends name theirs directly)
    makes_invitation = False

    def __init__(self, tools: Tools):
        self.tools = tools

    def group(self, campaign: Campaign, rows: list[Claimed], languages: dict[int, str], templates) -> list[Job]:
        return [Job(self, campaign, [r], templates) for r in rows]

    def check(self, job: Job, rows: list[Claimed], ho: HandOver) -> None:
        for r in rows:
            ho.send(r)

    async def send(self, job: Job) -> list[Result]:  # pragma: no cover - every kind has one
        raise NotImplementedError

    def pace(self, ho: HandOver) -> None:
        """The relay's pace (core.pace): each email about to go takes a slot, in
        the hand-over's transaction; one with no slot left waits, due when one frees."""
        if not self.kind.by_email or not pace.limited(self.tools.config.email):
            return
        kept = []
        for r in ho.keep:
            wait = pace.take(self.tools.config.email, ho.now)
            if wait is None:
                kept.append(r)
            else:
                ho.defer(r, wait)
        ho.keep = kept

    # --- shared pieces -------------------------------------------------------------------

    def results(self, job: Job, outcome: Outcome, rows: list[Claimed] | None = None) -> list[Result]:
        now = self.tools.clock()
        out = []
        for r in job.handed if rows is None else rows:
            d = self.tools.policy.decide(outcome, r.attempts + 1, r.outcomes_unknown, now, self.kind.reaches_patient)
            out.append(Result(r, d.state, d.code, d.detail, d.due_at, d.unknown, d.problem))
        return out

    def _check_message(self, job: Job, rows: list[Claimed], ho: HandOver, windowed: bool) -> None:
        """A patient's own email or push: to a recipient still waiting, inside the
        broadcast's window (`windowed`), allowed by consent and opt-outs, in sending hours."""
        # the sending hours and the broadcast's window are the same for every row: decided once
        allowed_at = self.tools.first_allowed(ho.now)
        bounds = window_bounds(job.campaign, self.tools.config.clinic.tz) if windowed else None
        window_open = bounds is None or self._window_open(job.campaign, ho.now, bounds)
        waiting, fresh, keep = RECIPIENT_WAITING, ho.fresh, ho.keep
        for r in rows:
            f = fresh[r.id]
            if f.recipient_status not in waiting:
                self._waiting_recipient(r, f, ho)  # cancelled: removed, stopped or deleted
            elif not window_open:
                self._window(job, r, ho, DeliveryState.SKIPPED, bounds)  # skipped or deferred
            elif f.rule:
                ho.skip(r, f.rule, f.rule_detail)
            elif allowed_at > ho.now:
                ho.defer(r, allowed_at)
            else:
                keep.append(r)  # ho.send

    def _mail(self, message: bytes | Outcome, address: str, key: str) -> Outcome:
        """Send one written email (in a mail thread); an email that could not be written
        is its own final outcome."""
        if isinstance(message, Outcome):
            return message
        return self.tools.mailer.send(message, self.tools.letters.envelope_from, [address], key)

    def _waiting_recipient(self, r: Claimed, f: Fresh, ho: HandOver) -> bool:
        """An email or push goes only to a recipient still queued (or retrying)."""
        if f.recipient_status in RECIPIENT_WAITING:
            return True
        code = Reason.REMOVED if f.recipient_status == RecipientStatus.REMOVED else Reason.STOPPED
        ho.cancel(r, code if f.recipient_status else Reason.DELETED)
        return False

    @staticmethod
    def _window_open(c: Campaign, now: datetime, bounds: tuple) -> bool:
        """Whether `_window` lets a row of this campaign through now (the same for every row)."""
        opens, closes = bounds
        return opens <= now < closes and c.expired_at is None

    def _window(
        self, job: Job, r: Claimed, ho: HandOver, when_ended: DeliveryState, bounds: tuple | None = None
    ) -> bool:
        c = job.campaign
        opens, closes = bounds or window_bounds(c, self.tools.config.clinic.tz)
        if ho.now >= closes or c.expired_at is not None:
            if when_ended == DeliveryState.SKIPPED:
                ho.skip(r, Reason.WINDOW_ENDED)
            else:
                ho.cancel(r, Reason.WINDOW_ENDED)
            return False
        if ho.now < opens:
            ho.defer(r, opens)  # the window moved later: wait for it
            return False
        return True

    def _render(self, kind: str, fields: dict, context: dict) -> templating.Rendered:
        return templating.render(kind, fields, context)

    def _broadcast_context(self, c: Campaign, lang: str) -> dict:
        return templating.build_context(
            clinic=self.tools.letters.clinic,
            patient=None,
            invitation=None,
            language=lang,
            campaign={"starts_on": c.starts_on, "ends_on": c.ends_on},
        )


# --- the patient's own email -----------------------------------------------------------


class EmailHandler(Handler):
    kind = DeliveryKind.EMAIL
    stage = Stage.SEND
    makes_invitation = True

    def check(self, job, rows, ho):
        self._check_message(job, rows, ho, windowed=False)

    async def send(self, job):
        r = job.handed[0]
        try:
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(self.tools.mail_pool(), self._write_and_send, job, r)
        except templating.TemplateRenderError as e:  # e.g. over the render budget: this delivery only
            return [Result(r, DeliveryState.FAILED, Reason.TEMPLATE, str(e))]
        return self.results(job, outcome)

    def _write_and_send(self, job: Job, r: Claimed) -> Outcome:
        f = job.fresh[r.id]
        inv = f.invitation
        assert inv is not None, "the preparer gives every invitation delivery its invitation"
        lang = language_for(job.templates, f.language, self.tools.config.clinic.default_language)
        fields = job.templates.get(lang, {})
        expires_on = inv.expires_at.replace(tzinfo=UTC).astimezone(self.tools.config.clinic.tz).date()
        context = templating.build_context(
            clinic=self.tools.letters.clinic,
            patient={"first_name": f.first_name, "last_name": f.last_name, "language": f.language},
            campaign={},
            language=lang,
            invitation={"url": inv.url, "code": inv.code, "expires_on": expires_on},
            unsubscribe={"url": unsubscribe.link(self.tools.config, f.unsubscribe)},
        )
        message = self.tools.letters.write(
            {"subject": fields.get("subject", ""), "body": fields.get("body", "")},
            context,
            lang,
            name=f.name,
            address=f.email,
            key=r.key,
        )
        return self._mail(message, f.email, r.key)


# --- a broadcast ------------------------------------------------------------------------


class _Batched(Handler):
    """Rows of one broadcast sent in requests of up to 500 app ids."""

    def group(self, campaign, rows, languages, templates):
        by_lang: dict[str, list[Claimed]] = {}
        for r in rows:
            by_lang.setdefault(self._group_language(r, languages, templates), []).append(r)
        jobs = []
        for lang, rs in by_lang.items():
            for i in range(0, len(rs), MAX_IDS):
                jobs.append(Job(self, campaign, rs[i : i + MAX_IDS], templates, lang))
        return jobs

    def _group_language(self, r, languages, templates) -> str:
        return ""

    def _app_ids(self, job: Job) -> list[str]:
        fresh = job.fresh
        return list(dict.fromkeys([fresh[r.id].app_id or "" for r in job.handed]))

    async def _in_parts(self, job: Job, call: Callable) -> list[tuple[Job, Outcome]]:
        """`call(app_ids, key)` for the job's app ids; a request the gateway finds too large
        (413) is about the batch, not its patients: it is sent again in halves (each with a
        key of its own, the same at every retry), down to one id, whose 413 is then its own.
        Answers (a part of the job, its outcome)."""
        todo, done = [(self._app_ids(job), job.batch_key())], []
        while todo:
            ids, key = todo.pop(0)
            outcome = await call(ids, key)
            if outcome.http_status == 413 and len(ids) > 1:
                ids = sorted(ids)
                for half in (ids[: len(ids) // 2], ids[len(ids) // 2 :]):
                    todo.append((half, str(uuid.uuid5(_BATCH_NS, key + "|" + ",".join(half)))))
                continue
            done.append((ids, outcome))
        if len(done) == 1:
            return [(job, done[0][1])]
        fresh = job.fresh
        parts = []
        for ids, outcome in done:
            mine = set(ids)
            parts.append((replace(job, handed=[r for r in job.handed if (fresh[r.id].app_id or "") in mine]), outcome))
        return parts


class PushHandler(_Batched):
    kind = DeliveryKind.PUSH
    stage = Stage.SEND

    def _group_language(self, r, languages, templates):
        return language_for(templates, languages.get(r.id), self.tools.config.clinic.default_language)

    def group(self, campaign, rows, languages, templates):
        # the language of each patient language, decided once (not once a row)
        default = self.tools.config.clinic.default_language
        langs = {lg: language_for(templates, lg, default) for lg in {languages.get(r.id) for r in rows}}
        by_lang: dict[str, list[Claimed]] = {}
        for r in rows:
            by_lang.setdefault(langs[languages.get(r.id)], []).append(r)
        return [
            Job(self, campaign, rs[i : i + MAX_IDS], templates, lang)
            for lang, rs in by_lang.items()
            for i in range(0, len(rs), MAX_IDS)
        ]

    def check(self, job, rows, ho):
        self._check_message(job, rows, ho, windowed=True)

    def __init__(self, tools: Tools):
        super().__init__(tools)
        self._texts: dict[tuple, tuple[str, str]] = {}

    async def send(self, job):
        c = job.campaign
        try:
            title, text = self._push_text(c, job.language, job.templates.get(job.language, {}))
        except templating.TemplateRenderError as e:
            return [Result(r, DeliveryState.FAILED, Reason.TEMPLATE, str(e)) for r in job.handed]
        parts = await self._in_parts(job, lambda ids, key: self.tools.gateway.push(c.uuid, ids, title, text, key))
        return [result for part, outcome in parts for result in self._per_account(part, outcome)]

    def _push_text(self, c: Campaign, lang: str, fields: dict) -> tuple[str, str]:
        """The push's title and text in `lang`, rendered once for the same template and
        dates (a broadcast's push carries no patient data), not once a request of 500."""
        key = (lang, c.starts_on, c.ends_on, fields.get("title", ""), fields.get("push", ""))
        got = self._texts.get(key)
        if got is None:
            rendered = self._render("broadcast", {"title": key[3], "push": key[4]}, self._broadcast_context(c, lang))
            got = (rendered.title or "", rendered.push or "")
            if len(self._texts) >= 64:
                self._texts.clear()
            self._texts[key] = got
        return got

    def _per_account(self, job: Job, outcome: Outcome) -> list[Result]:
        if not outcome.ok:
            return self.results(job, outcome)
        unknown = unknown_ids(outcome)
        if not unknown:  # every account known: no look-up a row
            return [Result(r, DeliveryState.SENT) for r in job.handed]
        fresh = job.fresh
        return [
            Result(r, DeliveryState.FAILED, Reason.UNKNOWN_APP_ACCOUNT)
            if (fresh[r.id].app_id or "") in unknown
            else Result(r, DeliveryState.SENT)
            for r in job.handed
        ]


class PublishHandler(PushHandler):
    kind = DeliveryKind.PUBLISH
    stage = Stage.FEED

    def _group_language(self, r, languages, templates):
        return ""

    def check(self, job, rows, ho):
        bounds = window_bounds(job.campaign, self.tools.config.clinic.tz)
        for r in rows:
            f = ho.fresh[r.id]
            # who sees a live broadcast in the feed (as core.rules.in_feed says)
            gone = f.recipient_status in (None, RecipientStatus.REMOVED) or (
                f.recipient_status == RecipientStatus.SKIPPED and f.recipient_reason not in FEED_ONLY
            )
            if gone or f.recipient_reason == Reason.UNKNOWN_APP_ACCOUNT:
                ho.cancel(r, Reason.REMOVED if f.recipient_status == RecipientStatus.REMOVED else Reason.DELETED)
            elif self._window(job, r, ho, DeliveryState.CANCELLED, bounds):
                if f.rule:
                    ho.skip(r, f.rule, f.rule_detail)
                else:
                    ho.send(r)

    async def send(self, job):
        add = self.tools.gateway.add_recipients
        parts = await self._in_parts(job, lambda ids, key: add(job.campaign.uuid, ids, key))
        return [result for part, outcome in parts for result in self._per_account(part, outcome)]


class UnpublishHandler(Handler):
    kind = DeliveryKind.UNPUBLISH

    def check(self, job, rows, ho):
        for r in rows:
            if ho.fresh[r.id].app_id:
                ho.send(r)
            else:
                ho.done(r)  # no app account any more: nothing is shown to anyone

    async def send(self, job):
        r = job.handed[0]
        outcome = await self.tools.gateway.remove_recipient(job.campaign.uuid, job.fresh[r.id].app_id or "", r.key)
        return self.results(job, outcome)


class PutHandler(Handler):
    kind = DeliveryKind.PUT
    via_recipient = False

    def check(self, job, rows, ho):
        c = job.campaign
        for r in rows:
            if c.kind != Kind.BROADCAST or not c.starts_on or not c.ends_on:
                ho.fail(r, Reason.INTERNAL, "not a broadcast with a window")
            else:
                ho.send(r)

    async def send(self, job):
        c, r = job.campaign, job.handed[0]
        opens, closes = window_bounds(c, self.tools.config.clinic.tz)
        titles, bodies = {}, {}
        for lang in templating.LANGUAGES:
            fields = job.templates.get(lang) or {}
            if not (fields.get("title", "").strip() or fields.get("body", "").strip()):
                continue
            try:
                rendered = self._render(
                    "broadcast",
                    {"title": fields.get("title", ""), "body": fields.get("body", "")},
                    self._broadcast_context(c, lang),
                )
            except templating.TemplateRenderError as e:
                return [Result(r, DeliveryState.FAILED, Reason.TEMPLATE, f"{lang}: {e}")]
            titles[lang], bodies[lang] = rendered.title, rendered.body_markdown
        outcome = await self.tools.gateway.put_broadcast(
            c.uuid, titles, bodies, rfc3339(opens), rfc3339(closes - timedelta(seconds=1)), r.key
        )
        return self.results(job, outcome)


class ExpireHandler(Handler):
    kind = DeliveryKind.EXPIRE
    via_recipient = False

    async def send(self, job):
        outcome = await self.tools.gateway.delete_broadcast(job.campaign.uuid, job.handed[0].key)
        return self.results(job, outcome)


HANDLERS: dict[DeliveryKind, type[Handler]] = {
    h.kind: h for h in (EmailHandler, PushHandler, PublishHandler, UnpublishHandler, PutHandler, ExpireHandler)
}
