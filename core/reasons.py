"""Why a recipient was skipped, failed or is retrying: a stable code, and its words.

A recipient (and a delivery) stores a `reason_code` — one of `Reason`, stable English
for scripts and `--json` — and a `reason` detail: the server's own message for a send
that failed, or the facts a wording needs (`2026-12-03|link` for an opt-out).
What people read comes from `WORDS`, keyed by code, in the staff member's language;
no code anywhere compares display text.
"""

from __future__ import annotations

from enum import StrEnum

from core.enums import Language


class Reason(StrEnum):
    # consent rules (core.rules), checked at assign, start and send
    NO_APP_ACCOUNT = "no_app_account"
    NO_MARKETING_CONSENT = "no_marketing_consent"
    PUSH_OFF = "push_off"
    DO_NOT_CONTACT = "do_not_contact"
    ALREADY_ON_APP = "already_on_app"
    NO_EMAIL = "no_email"
    OPTED_OUT_EMAIL = "opted_out_email"  # detail: "YYYY-MM-DD|source" (core.reasons.opt_out_detail)
    OPTED_OUT_FEED = "opted_out_feed"
    OPTED_OUT_PUSH = "opted_out_push"
    # the campaign or the recipient changed
    WINDOW_ENDED = "window_ended"
    REMOVED = "removed"
    STOPPED = "stopped"
    DELETED = "deleted"
    # what a transport answered
    UNKNOWN_APP_ACCOUNT = "unknown_app_account"
    SEND_ERROR = "send_error"  # detail: the server's or the connection's message
    OUTCOME_UNKNOWN = "outcome_unknown"  # detail: what happened; it may have arrived
    MAYBE_TWICE = "maybe_twice"  # sent, or failed unknown, after an earlier copy's unknown outcome
    CHANNEL_PAUSED = "channel_paused"  # detail: what the channel's server said (core.channel_health)
    TEMPLATE = "template"  # detail: the template problem
    INTERNAL = "internal"  # detail: the exception


# code -> (English, French); `{detail}` and, for an opt-out, `{date}` and `{source}`
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
    Reason.OPTED_OUT_EMAIL: ("opted out of email on {date} ({source})", "désabonné des courriels le {date} ({source})"),
    Reason.OPTED_OUT_FEED: (
        "opted out of the app's messages on {date} ({source})",
        "désabonné des messages de l'application le {date} ({source})",
    ),
    Reason.OPTED_OUT_PUSH: (
        "opted out of push notifications on {date} ({source}; the message still shows in their feed)",
        "désabonné des notifications le {date} ({source}; le message reste affiché dans son fil)",
    ),
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
    Reason.MAYBE_TWICE: (
        "may have been delivered twice (an earlier copy's outcome is unknown){detail}",
        "a peut-être été reçu deux fois (le résultat d'un envoi précédent est inconnu){detail}",
    ),
    Reason.CHANNEL_PAUSED: (
        "waiting for the channel to work again: {detail}",
        "en attente du retour du canal : {detail}",
    ),
    Reason.TEMPLATE: ("template: {detail}", "modèle : {detail}"),
    Reason.INTERNAL: ("internal error: {detail}", "erreur interne : {detail}"),
}

# a reason whose words name times, when the caller has them (`describe(..., times=...)`)
WORDS_WITH_TIMES: dict[Reason, tuple[str, str]] = {
    # the second copy went through: both times, the first copy's answer never came
    Reason.MAYBE_TWICE: (
        "may have been delivered twice: a first copy went at {first} (its answer never came), "
        "the second was sent at {sent}",
        "a peut-être été reçu deux fois\u00a0: un premier envoi à {first} (sans réponse), le second envoyé à {sent}",
    ),
}

_SOURCE_WORDS = {
    "link": ("unsubscribe link", "lien de désabonnement"),
    "app": ("in the app", "dans l'application"),
    "staff": ("recorded by staff", "noté par le personnel"),
}


_OPTED_OUT = ("opted_out_email", "opted_out_feed", "opted_out_push")


def opt_out_detail(day: object, source: str) -> str:
    """The detail stored with an OPTED_OUT_* reason (what its wording needs); core.rules
    builds the same in SQL."""
    return f"{day}|{source}"


def describe(code: str, detail: str = "", language: str = "en", times: dict[str, str] | None = None) -> str:
    """The words for a stored (code, detail), in `language` ("en" or "fr"); `times`, the
    moments a wording of WORDS_WITH_TIMES names, as staff read them (maybe_twice:
    `first` and `sent`), when the caller has them all."""
    i = 1 if language == Language.FR else 0
    if not code:
        return detail
    if times and code in WORDS_WITH_TIMES and all(times.values()):
        return WORDS_WITH_TIMES[Reason(code)][i].format(**times)
    try:
        words = WORDS[Reason(code)][i]
    except ValueError:  # a code from a newer version: show what we have
        return detail or code
    if code in _OPTED_OUT:
        day, _, source = detail.partition("|")
        return words.format(date=day[:10], source=_SOURCE_WORDS.get(source, (source, source))[i])
    return words.format(detail=detail)
