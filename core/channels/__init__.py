"""Transports, one a module, behind the small interface of `base`; chosen from the config.

base.py     Mailer, Gateway, Outcome (ok, retry, final): what every transport implements
smtp.py     SMTP: STARTTLS, implicit TLS or none, a small pool of connections
smtp_answers.py  what an SMTP answer says of the relay (its pace, its sending limit), not the recipient
gateway.py  the app gateway's whole HTTP contract (gateway-api.md), typed
sinks.py    the demo's and dry runs' local sinks: a maildir, a gateway log
compose.py  one email serialised (text + HTML, structured headers)
dkim.py     DKIM signing by clinicast, for a relay that does not sign
"""

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
