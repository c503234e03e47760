"""Why a recipient was skipped, failed or is retrying: a stable code, and its words.

A recipient (and a delivery) stores a `reason_code` — one of `Reason`, stable English
for scripts and `--json` — and a `reason` detail: the server's own message for a send
that failed, or the facts a wording needs (`2026-12-03|link` for an opt-out).
What people read comes from `WORDS`, keyed by code, through the catalogue (core.i18n) in
the staff member's language; no code anywhere compares display text. The words of the
statuses, kinds and windows themselves: core.words.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from core import i18n
from core.i18n import N_


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


# code -> its words (extracted for the catalogue, translated where shown); `{detail}` and,
# for an opt-out, `{date}` and `{source}`
WORDS: dict[Reason, str] = {
    Reason.NO_APP_ACCOUNT: N_("no app account"),
    Reason.NO_MARKETING_CONSENT: N_("no marketing consent"),
    Reason.PUSH_OFF: N_("push notifications off (the message still shows in their feed)"),
    Reason.DO_NOT_CONTACT: N_("do not contact"),
    Reason.ALREADY_ON_APP: N_("already on the patient app"),
    Reason.NO_EMAIL: N_("no email address"),
    Reason.OPTED_OUT_EMAIL: N_("opted out of email on {date} ({source})"),
    Reason.OPTED_OUT_FEED: N_("opted out of the app's messages on {date} ({source})"),
    Reason.OPTED_OUT_PUSH: N_(
        "opted out of push notifications on {date} ({source}; the message still shows in their feed)"
    ),
    Reason.WINDOW_ENDED: N_("the broadcast window ended before sending"),
    Reason.REMOVED: N_("recipient removed"),
    Reason.STOPPED: N_("campaign stopped"),
    Reason.DELETED: N_("campaign or recipient deleted"),
    Reason.UNKNOWN_APP_ACCOUNT: N_("unknown app account"),
    Reason.SEND_ERROR: "{detail}",  # the server's own words
    Reason.OUTCOME_UNKNOWN: N_("outcome unknown: {detail}"),
    Reason.MAYBE_TWICE: N_("may have been delivered twice (an earlier copy's outcome is unknown){detail}"),
    Reason.CHANNEL_PAUSED: N_("waiting for the channel to work again: {detail}"),
    Reason.TEMPLATE: N_("template: {detail}"),
    Reason.INTERNAL: N_("internal error: {detail}"),
}

# a reason whose words name times, when the caller has them (`describe(..., times=...)`)
WORDS_WITH_TIMES: dict[Reason, str] = {
    # the second copy went through: both times, the first copy's answer never came
    Reason.MAYBE_TWICE: N_(
        "may have been delivered twice: a first copy went at {first} (its answer never came), "
        "the second was sent at {sent}"
    ),
}

_SOURCE_WORDS = {
    "link": N_("unsubscribe link"),
    "app": N_("in the app"),
    "staff": N_("recorded by staff"),
}


_OPTED_OUT = ("opted_out_email", "opted_out_feed", "opted_out_push")


def opt_out_detail(day: object, source: str) -> str:
    """The detail stored with an OPTED_OUT_* reason (what its wording needs); core.rules
    builds the same in SQL."""
    return f"{day}|{source}"


def _day(text: str, language: str | None) -> str:
    """An opt-out's day: as people read it in the language in use (core.formats); ISO
    when a language is asked for explicitly (the English of --json)."""
    if language is not None:
        return text
    from core import formats

    try:
        return formats.day(date.fromisoformat(text))
    except ValueError:
        return text


def describe(code: str, detail: str = "", language: str | None = None, times: dict[str, str] | None = None) -> str:
    """The words for a stored (code, detail): in the language in use, or in `language`
    ("en" for --json's reason_text: its spec English, dates ISO); `times`, the moments a
    wording of WORDS_WITH_TIMES names, as staff read them (maybe_twice: `first` and
    `sent`), when the caller has them all."""
    gettext = i18n.translation(language).gettext if language is not None else i18n._
    if not code:
        return detail
    if times and code in WORDS_WITH_TIMES and all(times.values()):
        return gettext(WORDS_WITH_TIMES[Reason(code)]).format(**times)
    try:
        words = WORDS[Reason(code)]
    except ValueError:  # a code from a newer version: show what we have
        return detail or code
    if code == Reason.SEND_ERROR:
        return detail
    if code in _OPTED_OUT:
        day, _sep, source = detail.partition("|")
        said = gettext(_SOURCE_WORDS[source]) if source in _SOURCE_WORDS else source
        return gettext(words).format(date=_day(day[:10], language), source=said)
    return gettext(words).format(detail=detail)
