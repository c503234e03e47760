"""Why a recipient was skipped, failed or is retrying: a stable code, and its words.

A recipient (and a delivery) stores a `reason_code` — one of `Reason`, stable English
for scripts and `--json` — and a `reason` detail: the server's own message for a send
that failed, or the facts a wording needs (`email|2026-12-03|link` for an opt-out).
What people read comes from `WORDS`, keyed by code, in the staff member's language;
no code anywhere compares display text.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # consent rules (core.rules), checked at assign, start and send
    NO_APP_ACCOUNT = "no_app_account"
    NO_MARKETING_CONSENT = "no_marketing_consent"
    PUSH_OFF = "push_off"
    DO_NOT_CONTACT = "do_not_contact"
    ALREADY_ON_APP = "already_on_app"
    NO_EMAIL = "no_email"
    OPTED_OUT = "opted_out"
    # the campaign or the recipient changed
    WINDOW_ENDED = "window_ended"
    REMOVED = "removed"
    STOPPED = "stopped"
    DELETED = "deleted"
    # what a transport answered
    UNKNOWN_APP_ACCOUNT = "unknown_app_account"
    SEND_ERROR = "send_error"  # detail: the server's or the connection's message
    OUTCOME_UNKNOWN = "outcome_unknown"  # detail: what happened; it may have arrived
    TEMPLATE = "template"  # detail: the template problem
    INTERNAL = "internal"  # detail: the exception


# code -> (English, French); `{detail}` and, for an opt-out, `{channel}`, `{date}`, `{source}`
WORDS: dict[Reason, tuple[str, str]] = {
    Reason.NO_APP_ACCOUNT: ("no app account", "pas de compte dans l'application"),
    Reason.NO_MARKETING_CONSENT: ("no marketing consent", "pas de consentement aux communications"),
    Reason.PUSH_OFF: (
        "push notifications off (the message still shows in their feed)",
        "notifications désactivées (le message reste affiché dans son fil)",
    ),
    Reason.DO_NOT_CONTACT: ("do not contact", "ne pas contacter"),
    Reason.ALREADY_ON_APP: ("already on the patient app", "déjà dans l'application"),
    Reason.NO_EMAIL: ("no email address", "pas d'adresse courriel"),
    Reason.OPTED_OUT: ("opted out of {channel} on {date} ({source})", "désabonné ({channel}) le {date} ({source})"),
    Reason.WINDOW_ENDED: (
        "the broadcast window ended before sending",
        "la période de diffusion a pris fin avant l'envoi",
    ),
    Reason.REMOVED: ("recipient removed", "destinataire retiré"),
    Reason.STOPPED: ("campaign stopped", "campagne arrêtée"),
    Reason.DELETED: ("campaign or recipient deleted", "campagne ou destinataire supprimé"),
    Reason.UNKNOWN_APP_ACCOUNT: ("unknown app account", "compte inconnu de l'application"),
    Reason.SEND_ERROR: ("{detail}", "{detail}"),
    Reason.OUTCOME_UNKNOWN: ("outcome unknown: {detail}", "résultat inconnu : {detail}"),
    Reason.TEMPLATE: ("template: {detail}", "modèle : {detail}"),
    Reason.INTERNAL: ("internal error: {detail}", "erreur interne : {detail}"),
}

_CHANNEL_WORDS = {
    "email": ("email", "courriels"),
    "feed": ("the app's feed", "fil de l'application"),
    "push": ("push notifications", "notifications"),
    "all": ("every message", "tous les messages"),
}
_SOURCE_WORDS = {
    "link": ("unsubscribe link", "lien de désabonnement"),
    "app": ("in the app", "dans l'application"),
    "staff": ("recorded by staff", "noté par le personnel"),
}


def opt_out_detail(channel: str, day: object, source: str) -> str:
    """The detail stored with Reason.OPTED_OUT (what its wording needs)."""
    return f"{channel}|{day}|{source}"


def describe(code: str, detail: str = "", language: str = "en") -> str:
    """The words for a stored (code, detail), in `language` ("en" or "fr")."""
    i = 1 if language == "fr" else 0
    if not code:
        return detail
    try:
        words = WORDS[Reason(code)][i]
    except ValueError:  # a code from a newer version: show what we have
        return detail or code
    if code == Reason.OPTED_OUT:
        channel, _, rest = detail.partition("|")
        day, _, source = rest.partition("|")
        return words.format(
            channel=_CHANNEL_WORDS.get(channel, (channel, channel))[i],
            date=day[:10],
            source=_SOURCE_WORDS.get(source, (source, source))[i],
        )
    return words.format(detail=detail)
