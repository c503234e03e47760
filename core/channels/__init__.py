"""Transports, one a module, behind the small interface of `base`; chosen from the config."""

from __future__ import annotations

from core.channels.base import FINAL, OK, RETRY, Gateway, Mailer, Outcome


def make_mailer(email, ssl_context=None) -> Mailer:
    """`[email] transport`: "smtp" or "maildir"."""
    if email.transport == "maildir":
        from core.channels.sinks import MaildirMailer

        return MaildirMailer(email.path)
    from core.channels.smtp import SmtpMailer

    return SmtpMailer.from_settings(email, ssl_context=ssl_context)


def make_gateway(gateway) -> Gateway:
    """`[gateway] transport`: "http" or "log"."""
    if gateway.transport == "log":
        from core.channels.sinks import LogGateway

        return LogGateway(gateway.path)
    from core.channels.gateway import HttpGateway

    return HttpGateway.from_settings(gateway)


__all__ = ["FINAL", "OK", "RETRY", "Gateway", "Mailer", "Outcome", "make_gateway", "make_mailer"]
