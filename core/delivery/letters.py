"""Emails written for sending: a template rendered for one patient, the clinic's
identification added, the message serialised (core.channels.compose). Pure work on
the mail threads: no database, no transport.

What the emails of a campaign share is done once: each template is parsed and its
Markdown rendered once per campaign and language (core.templating.prepared), the MIME
frame (sender, structure, boundary) built once per language (compose.Frame); per email
only the patient's values are put in and the message's own headers written.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parseaddr

from core import identification
from core.campaigns import clinic_values
from core.channels import Outcome, compose
from core.config.types import Config
from core.reasons import Detail, detail
from core.templating.prepared import PER_PATIENT_GROUPS, Prepared

_KEEP = 32  # prepared templates kept (a few campaigns at a time, two languages each)


class Letters:
    """Writes the emails of one dispatcher (its config's sender and clinic, its clock)."""

    def __init__(self, config: Config, clock: Callable[[], datetime]):
        self.config = config
        self.clock = clock
        self.clinic = clinic_values(config)
        self.sender = config.email.sender
        self.envelope_from = parseaddr(config.email.sender)[1] or config.email.sender
        self._lock = threading.Lock()  # the mail threads share the caches
        self._prepared: OrderedDict[tuple[str, ...], Prepared] = OrderedDict()
        self._frames: dict[str, compose.Frame] = {}

    def prepared(self, fields: Mapping[str, str], language: str, shared: Mapping[str, dict]) -> Prepared:
        """The template prepared for every patient (`shared`: the context's groups that
        are the same for all of them, the clinic's)."""
        key = (fields.get("subject", ""), fields.get("body", ""), language, repr(sorted(shared.items())))
        with self._lock:
            p = self._prepared.get(key)
            if p is None:
                p = self._prepared[key] = Prepared(fields, shared, language)
                while len(self._prepared) > _KEEP:
                    self._prepared.popitem(last=False)
            else:
                self._prepared.move_to_end(key)
            return p

    def _frame(self, language: str) -> compose.Frame:
        with self._lock:
            f = self._frames.get(language)
            if f is None:
                f = self._frames[language] = compose.Frame(self.sender, language)
            return f

    def write(
        self, fields: Mapping[str, str], context: dict, language: str, *, name: str, address: str, key: str
    ) -> bytes | Outcome:
        """The message's bytes, or the final Outcome of an email that cannot be written.
        `context` is a build_context context for this patient. A template that cannot be
        rendered (over its budget, core.templating.sandbox) raises TemplateRenderError:
        the caller fails that delivery with reason `template`."""
        link = (context.get("unsubscribe") or {}).get("url", "")
        if not link:  # never an email without its way out (SPEC §10)
            return Outcome.final(detail(Detail.NO_UNSUBSCRIBE))
        values = {k: v for k, v in context.items() if k in PER_PATIENT_GROUPS}
        shared = {k: v for k, v in context.items() if k not in PER_PATIENT_GROUPS}
        r = self.prepared(fields, language, shared).render(values)
        text, html = identification.add(r.text or "", r.html or "", self.clinic, language)
        try:
            return self._frame(language).build(
                to=compose.address(name, address),
                subject=r.subject or "",
                text=text,
                html=html,
                key=key,
                list_unsubscribe=link,
                date=self.clock().replace(tzinfo=UTC),
            )
        except (UnicodeError, ValueError) as e:
            return Outcome.final(detail(Detail.CANNOT_BUILD, error=e))
