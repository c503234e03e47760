"""Test sends (SPEC §11): a staff member's own copy of a campaign, rendered for one
patient, delivered through the outbox like everything else (core.testsend writes the row).

- `test_email`: the invitation email, with an invitation code marked as a test (never
  stored as an invitation, so never valid for joining) and an unsubscribe link whose
  token names no patient, to the staff member's address;
  its subject starts with "[TEST]" or "[ESSAI]" (the patient's language, as the
  patient would get it).
- `test_broadcast`: to the staff member's app account, a one-off feed entry (a broadcast
  of its own, expiring in an hour) and its push. Three gateway calls, each with a key
  derived from the delivery's: a retry replays the ones already done.

No recipient row, no status change; not bound by sending hours or consent (they reach
staff, not patients). The address or app id is the delivery's `target`.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, timedelta

from core import templating
from core.channels import Outcome
from core.delivery.invitations import CODE_ALPHABET, VALID_DAYS, link
from core.delivery.kinds import Handler, Job, language_for, rfc3339
from core.delivery.results import Result
from core.enums import DeliveryKind, DeliveryState
from core.models import Delivery
from core.optouts import unsubscribe
from core.reasons import Reason

PREFIX = {"en": "[TEST] ", "fr": "[ESSAI] "}
FEED_ENTRY_HOURS = 1
_NS = uuid.UUID("0b7f2c1e-5a39-4c7e-9d41-6a1f3e2b8c55")


def marked_code(key: str) -> str:
    """A code shaped like a real one, marked TEST-, the same for every retry of a delivery."""
    digest = hashlib.sha256(key.encode()).digest()
    s = "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:8])
    return f"TEST-{s[:4]}-{s[4:]}"


def derived_key(key: str, what: str) -> str:
    return str(uuid.uuid5(_NS, f"{key}:{what}"))


class _Test(Handler):
    via_recipient = False  # the patient is the delivery's own

    def group(self, campaign, rows, languages, templates):
        # called on the database thread: read each row's target here
        targets = dict(
            Delivery.select(Delivery.id, Delivery.target).where(Delivery.id.in_([r.id for r in rows])).tuples()
        )
        jobs = []
        for r in rows:
            job = Job(self, campaign, [r], templates)
            job.target = targets.get(r.id, "")
            jobs.append(job)
        return jobs

    def check(self, job, rows, ho):
        for r in rows:
            if ho.fresh[r.id].patient_id is None or not job.target:
                ho.cancel(r, Reason.DELETED)
            else:
                ho.send(r)

    def _language(self, job: Job) -> str:
        f = job.fresh[job.handed[0].id]
        return language_for(job.templates, f.language, self.tools.config.clinic.default_language)


class EmailTestHandler(_Test):
    kind = DeliveryKind.TEST_EMAIL

    async def send(self, job):
        outcome = await asyncio.get_running_loop().run_in_executor(self.tools.mail_pool(), self._write_and_send, job)
        return self.results(job, outcome)

    def _write_and_send(self, job: Job) -> Outcome:
        r = job.handed[0]
        f = job.fresh[r.id]
        lang = self._language(job)
        fields = job.templates.get(lang, {})
        code = marked_code(r.key)
        expires_on = (self.tools.clock() + timedelta(days=VALID_DAYS)).replace(tzinfo=UTC)
        context = templating.build_context(
            clinic=self.tools.letters.clinic,
            patient={"first_name": f.first_name, "last_name": f.last_name, "language": f.language},
            campaign={},
            language=lang,
            invitation={
                "url": link(self.tools.config.clinic.app_url, code),
                "code": code,
                "expires_on": expires_on.astimezone(self.tools.config.clinic.tz).date(),
            },
            # a link that names no patient: a staff member who tries it opts nobody out
            unsubscribe={"url": unsubscribe.link(self.tools.config, "test-" + derived_key(r.key, "unsubscribe"))},
        )
        subject = PREFIX.get(lang, PREFIX["en"]) + fields.get("subject", "")
        message = self.tools.letters.write(
            {"subject": subject, "body": fields.get("body", "")}, context, lang, name="", address=job.target, key=r.key
        )
        return self._mail(message, job.target, r.key)


class BroadcastTestHandler(_Test):
    kind = DeliveryKind.TEST_BROADCAST

    async def send(self, job):
        r, c = job.handed[0], job.campaign
        lang = self._language(job)
        context = self._broadcast_context(c, lang)
        titles, bodies = {}, {}
        try:
            for lg in templating.LANGUAGES:
                fields = job.templates.get(lg) or {}
                if not (fields.get("title", "").strip() or fields.get("body", "").strip()):
                    continue
                rendered = self._render("broadcast", {"title": fields["title"], "body": fields["body"]}, context)
                titles[lg] = PREFIX[lg] + (rendered.title or "")
                bodies[lg] = rendered.body_markdown
            fields = job.templates.get(lang, {})
            push = self._render(
                "broadcast", {"title": fields.get("title", ""), "push": fields.get("push", "")}, context
            )
        except templating.TemplateRenderError as e:
            return [Result(r, DeliveryState.FAILED, Reason.TEMPLATE, str(e))]
        # a broadcast of its own, so the campaign's audience and window stay untouched
        entry = derived_key(r.key, "broadcast")
        now = self.tools.clock()
        gw = self.tools.gateway
        steps = (
            lambda: gw.put_broadcast(
                entry,
                titles,
                bodies,
                rfc3339(now),
                rfc3339(now + timedelta(hours=FEED_ENTRY_HOURS)),
                derived_key(r.key, "put"),
            ),
            lambda: gw.add_recipients(entry, [job.target], derived_key(r.key, "recipients")),
            lambda: gw.push(
                entry, [job.target], PREFIX[lang] + (push.title or ""), push.push or "", derived_key(r.key, "push")
            ),
        )
        for step in steps:
            outcome = await step()
            if not outcome.ok:
                return self.results(job, outcome)
        return self.results(job, outcome)


TEST_HANDLERS: dict[DeliveryKind, type[Handler]] = {h.kind: h for h in (EmailTestHandler, BroadcastTestHandler)}
