"""Emails written for sending: a template rendered for one patient, the clinic's
identification added, the message serialised (core.channels.compose). Pure work on
the mail threads: no database, no transport."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parseaddr

from core import identification, templating
from core.campaigns import clinic_values
from core.channels import Outcome, compose
from core.config.types import Config


class Letters:
    """Writes the emails of one dispatcher (its config's sender and clinic, its clock)."""

    def __init__(self, config: Config, clock: Callable[[], datetime]):
        self.config = config
        self.clock = clock
        self.clinic = clinic_values(config)
        self.sender = config.email.sender
        self.envelope_from = parseaddr(config.email.sender)[1] or config.email.sender

    def write(
        self, fields: Mapping[str, str], context: dict, language: str, *, name: str, address: str, key: str
    ) -> bytes | Outcome:
        """The message's bytes, or the final Outcome of an email that cannot be written.
        A template that cannot be rendered (over its budget, core.templating.sandbox) raises
        TemplateRenderError: the caller fails that delivery with reason `template`."""
        r = templating.render("invitation", fields, context, language)
        link = (context.get("unsubscribe") or {}).get("url", "")
        if not link:  # never an email without its way out (SPEC §10)
            return Outcome.final("no unsubscribe link for this email")
        text, html = identification.add(r.text or "", r.html or "", self.clinic, language)
        try:
            return compose.build(
                sender=self.sender,
                to=compose.address(name, address),
                subject=r.subject or "",
                text=text,
                html=html,
                key=key,
                language=language,
                list_unsubscribe=link,
                date=self.clock().replace(tzinfo=UTC),
            )
        except (UnicodeError, ValueError) as e:
            return Outcome.final(f"cannot build the email: {e}")
