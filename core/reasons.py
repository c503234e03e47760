"""Why a recipient was skipped, failed or is retrying: a stable code, and its words.

A recipient (and a delivery) stores a `reason_code` — one of `Reason`, stable English
for scripts and `--json` — and a `reason` detail: the server's own message for a send
that failed, or the facts a wording needs (`2026-12-03|link` for an opt-out).
What people read comes from `WORDS`, keyed by code, through the catalogue (core.i18n) in
the staff member's language; no code anywhere compares display text. The words of the
statuses, kinds and windows themselves: core.words.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from functools import cache, lru_cache

from core import i18n, oserrors
from core.i18n import N_, ngettext


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


# A consent rule's reason, said of one patient (the recipient table's "no email address")
# and of a count (an assign's "3 with no email address"): one entry each, the
# same words in both — they once said « pas d'adresse courriel » here, « sans adresse
# courriel » there. Each ngettext written out so that Babel extracts it.
_RULE_WORDS: dict[Reason, tuple[str, Callable[[int], str]]] = {
    Reason.NO_APP_ACCOUNT: (
        N_("no app account"),
        lambda n: ngettext("{n} with no app account", "{n} with no app account", n),
    ),
    Reason.NO_MARKETING_CONSENT: (
        N_("no marketing consent"),
        lambda n: ngettext("{n} with no marketing consent", "{n} with no marketing consent", n),
    ),
    Reason.PUSH_OFF: (
        N_("push notifications off (the message still shows in their feed)"),
        lambda n: ngettext("{n} with push notifications off", "{n} with push notifications off", n),
    ),
    Reason.DO_NOT_CONTACT: (
        N_("do not contact"),
        lambda n: ngettext("{n} marked do not contact", "{n} marked do not contact", n),
    ),
    Reason.ALREADY_ON_APP: (
        N_("already on the patient app"),
        lambda n: ngettext("{n} already on the patient app", "{n} already on the patient app", n),
    ),
    Reason.NO_EMAIL: (
        N_("no email address"),
        lambda n: ngettext("{n} with no email address", "{n} with no email address", n),
    ),
}

# code -> its words (extracted for the catalogue, translated where shown); `{detail}` and,
# for an opt-out, `{date}` and `{source}`
WORDS: dict[Reason, str] = {
    **{reason: words for reason, (words, _of_n) in _RULE_WORDS.items()},
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


def opt_out_source(source: str, gettext: Callable[[str], str] = i18n._) -> str:
    """Where an opt-out came from, as a phrase: « unsubscribe link », « in the app », « recorded
    by staff » — in a skip reason's parentheses and an opt-out row (core.optouts.history) alike.
    A source this version does not know: as it is."""
    return gettext(_SOURCE_WORDS[source]) if source in _SOURCE_WORDS else source


_OPTED_OUT = ("opted_out_email", "opted_out_feed", "opted_out_push")
# an opt-out reason without its day and source: a count of several patients (an assign's
# summary, the audit trail's « écartés : 3 (…) ») — « on  () » otherwise
_OPTED_OUT_COUNTED = {
    "opted_out_email": N_("opted out of email"),
    "opted_out_feed": N_("opted out of the app's messages"),
    "opted_out_push": N_("opted out of push notifications (the message still shows in their feed)"),
}


def counted(code: str, n: int) -> str:
    """`n` patients and why, as one agreeing phrase in the language in use — "2 opted out
    of the app's messages", « 2 désabonnés des messages de l'appli » — for a breakdown's
    line (a start's, a re-invite's): a reason's own words (`describe`) are a single
    patient's, and « 2  désabonné » read wrong."""
    from core import formats

    num = formats.number(n)
    words = _COUNTED.get(code)
    if words is None:  # a reason that is not a consent rule's (or a newer version's)
        return ngettext("{n} recipient: {reason}", "{n} recipients: {reason}", n).format(n=num, reason=describe(code))
    return words(n).format(n=num)


# each ngettext written out so that Babel extracts it; an opt-out's as `_OPTED_OUT_COUNTED` words it
_COUNTED: dict[str, Callable[[int], str]] = {
    **{reason: of_n for reason, (_words, of_n) in _RULE_WORDS.items()},
    Reason.OPTED_OUT_EMAIL: lambda n: ngettext("{n} opted out of email", "{n} opted out of email", n),
    Reason.OPTED_OUT_FEED: lambda n: ngettext(
        "{n} opted out of the app's messages", "{n} opted out of the app's messages", n
    ),
    Reason.OPTED_OUT_PUSH: lambda n: ngettext(
        "{n} opted out of push notifications", "{n} opted out of push notifications", n
    ),
}


class Detail:
    """What clinicast itself writes as a delivery's detail or a paused channel's (a
    transport failing, a hand-over giving up): stored in English — the spec's words, as
    `--json` shows them — exactly as `detail(Detail.X, **values)` writes it, and said in
    the reader's language by `said`, which knows it back from its text. A server's own
    words (an SMTP reply, the gateway's error message) stay as they came."""

    NO_UNSUBSCRIBE = N_("no unsubscribe link for this email")
    CANNOT_BUILD = N_("cannot build the email: {error}")
    DISPATCHER_STOPPED = N_("the dispatcher sending it stopped before the SMTP server's answer was recorded")
    GAVE_UP = N_("gave up after {n} attempts")
    CANNOT_SEND_TO = N_("cannot send to {to}: {error}")
    BAD_DOMAIN = N_("the domain of the email address {address} is not a valid domain name")
    SMTP_NO_SMTPUTF8 = N_(
        "cannot send to {address}: the SMTP server {where} does not accept addresses with accents or "
        "other non-ASCII characters before the @ (it does not offer SMTPUTF8)"
    )
    SINK_WRITE = N_("cannot write {path}: {why}")  # as an export says it (core.exports)
    SINK_APPEND = N_("cannot append to {path}: {error}")
    GATEWAY_NO_ANSWER = N_("gateway timed out: no complete answer within {seconds} s")
    GATEWAY_TIMEOUT_CONNECTING = N_("gateway timed out connecting (after {seconds} s)")
    GATEWAY_TIMEOUT_ANSWER = N_("gateway timed out waiting for the answer (after {seconds} s)")
    GATEWAY_TIMEOUT_SENDING = N_("gateway timed out sending (after {seconds} s)")
    GATEWAY_TIMEOUT_POOL = N_("gateway timed out waiting for a free connection (after {seconds} s)")
    GATEWAY_TIMEOUT = N_("gateway timed out waiting (after {seconds} s)")
    GATEWAY_CONNECT = N_("cannot connect to the gateway: {error}")
    GATEWAY_CLOSED = N_("gateway closed the connection: {error}")
    GATEWAY_ERROR = N_("gateway connection error ({kind}): {error}")
    GATEWAY_HTTP = N_("gateway answered HTTP {status}")
    GATEWAY_HTTP_TEXT = N_("gateway answered HTTP {status}: {text}")
    SMTP_CA_FILE = N_("cannot use [email] ca_file {path}: {error}")
    SMTP_NO_STARTTLS = N_('SMTP server {where} does not offer STARTTLS (set email.security = "tls" or "none")')
    SMTP_LOGIN = N_("SMTP login as {user} refused by {where}: {answer}")
    SMTP_NOT_TLS = N_(
        'SMTP server {where} answered without TLS: email.security = "tls" needs its implicit TLS port'
        ' (usually 465); for port 587 or 25 set email.security = "starttls"'
    )
    SMTP_ONLY_TLS = N_(
        "SMTP server {where} sent no greeting and answers in TLS: it is an implicit TLS port (as 465 is),"
        ' and email.security = "{security}" waits for a plain greeting; set email.security = "tls"'
    )
    SMTP_NO_AUTH = N_(
        'SMTP server {where} offers no login (AUTH) with email.security = "{security}": check email.security'
        " and email.port, or leave email.username empty"
    )
    SMTP_CONNECT_ANSWER = N_("SMTP server {where} answered {answer}")
    SMTP_TLS = N_("TLS with SMTP server {where} failed: {error}")
    SMTP_CONNECT = N_("cannot connect to SMTP server {where}: {error}")
    SMTP_CLOSED_BEFORE = N_("SMTP server closed the connection before accepting the message")
    SMTP_LOST_TWICE = N_("SMTP connection lost twice in a row")
    SMTP_SENDER_REFUSED = N_("SMTP server refused the sender {sender}: {answer}")
    SMTP_RECIPIENT_REFUSED = N_("SMTP server refused {address}: {answer}")
    SMTP_DATA_ANSWER = N_("SMTP server answered {answer} to DATA")
    SMTP_ANSWER = N_("SMTP server answered {answer}")
    SMTP_SILENT_AFTER = N_(
        "the SMTP server did not answer in time after receiving the message; it may have been delivered"
    )
    SMTP_CLOSED_AFTER = N_(
        "the SMTP server closed the connection after receiving the message; it may have been delivered"
    )
    SMTP_SILENT = N_("SMTP server did not answer within {seconds} s")
    # a secret or the DKIM key the sender cannot use (core.config.secrets): `{key}` is the
    # setting ("gateway.token_file"), which the probe of core.channel_health reads back
    SECRET_ENV_NOT_SET = N_("{key}: environment variable {name} is not set")
    SECRET_ENV_EMPTY = N_("{key}: environment variable {name} is empty")
    SECRET_ENV_NOT_ONE_LINE = N_(
        "{key}: environment variable {name} holds control characters or line breaks; expected one line of text"
    )
    SECRET_EMPTY = N_("{key}: {path} is empty")
    SECRET_NOT_ONE_LINE = N_("{key}: {path} holds control characters or line breaks; expected one line of text")
    SECRET_NOT_REGULAR = N_("{key}: {path} is not a regular file")
    SECRET_OPEN = N_("{key}: {path} is readable or writable by others; run: chmod o-rwx {path}")
    SECRET_DENIED = N_("{key}: cannot read {path}: permission denied (it is for the account that sends)")
    # the reader is the account that sends (the service account), or it is named for it
    SECRET_DENIED_SENDER = N_(
        "{key}: the account that sends, {login}, cannot read {path}; run as root: "
        "chown root:{group} {path} && chmod 0640 {path}"
    )
    SECRET_FOLDER_CLOSED_SENDER = N_(
        "{key}: the account that sends, {login}, cannot go through the folder {folder} to read {path}; "
        "move the file to a folder it can go through, or run as root: chmod o+x {folder}"
    )
    SECRET_MISSING = N_(
        "{key}: {path} does not exist: write the secret in it (one line, not readable by others), or correct the path"
    )
    SECRET_UNREADABLE = N_("{key}: cannot read {path}: {why}")
    SECRET_TOO_LARGE = N_("{key}: {path} is larger than {n} bytes; expected one line")
    SECRET_NOT_TEXT = N_("{key}: {path} is not UTF-8 text (a binary file?)")
    KEY_MISSING = N_(
        "{key}: {path} does not exist: write the private key in it (PEM, not readable by others), or correct the path"
    )
    KEY_TOO_LARGE = N_("{key}: {path} is larger than {n} bytes; expected a PEM private key")
    # what the DKIM key's file cannot tell: these wait for a success, as a refused token
    DKIM_NEEDS_DKIMPY = N_("DKIM signing needs dkimpy: pip install 'clinicast[dkim]'")
    DKIM_CANNOT_SIGN = N_("cannot sign with the DKIM key {path}: {error}; check [email] dkim_key_file")


def detail(msgid: str, **values: object) -> str:
    """A detail clinicast writes (one of `Detail`, its values put in), in English as stored."""
    return msgid.format(**values)


_PLACE = re.compile(r"\{(\w+)\}")
# what a placeholder can hold, when narrower than any text: a setting ("email.dkim_key_file")
_VALUE = {"key": r"[a-z_]+\.[a-z_]+"}


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each `Detail` as a pattern of its text, the most specific (most words of its own) first."""
    msgids = [v for k, v in vars(Detail).items() if k.isupper()]
    msgids.sort(key=lambda m: -len(_PLACE.sub("", m)))
    out = []
    for m in msgids:
        parts = _PLACE.split(m)  # literal, name, literal, name, …
        regex, named = "", set()
        for i, p in enumerate(parts):
            if i % 2 == 0:
                regex += re.escape(p)
            elif p in named:  # the same value again ("chmod o-rwx {path}")
                regex += f"(?P={p})"
            else:
                named.add(p)
                regex += f"(?P<{p}>{_VALUE.get(p, '.+?')})"
        out.append((re.compile(regex, re.S), m))
    return tuple(out)


def said(text: str, language: str | None = None) -> str:
    """A stored detail in the words of `language` (default: the one in use): one clinicast
    wrote (`Detail`, and a system error's words inside it, core.oserrors) translated, any
    other as it is."""
    return _said(text, i18n.translation(language or i18n.current())) if text else text


# a stored detail that counts (stored with its plural English, "gave up after 1 attempts",
# as rows already hold it): said with the form that agrees with its count
_COUNTED_DETAILS: dict[str, Callable[[Callable[[str, str, int], str], int], str]] = {
    Detail.GAVE_UP: lambda ngettext, n: ngettext("gave up after {n} attempt", "gave up after {n} attempts", n),
}


@lru_cache(maxsize=4096)
def _said(text: str, translation: gettext.NullTranslations) -> str:
    # keyed by the catalogue itself, not the language's name: a test's own French is not
    # the installed one (i18n keeps one catalogue object per language and folder)
    for pattern, msgid in _patterns():
        m = pattern.fullmatch(text)
        if m:
            values = {k: _said(v, translation) for k, v in m.groupdict().items()}
            counted = _COUNTED_DETAILS.get(msgid)
            if counted is not None and values.get("n", "").isdigit():
                return counted(translation.ngettext, int(values["n"])).format(**values)
            return translation.gettext(msgid).format(**values)
    return translation.gettext(text) if text in oserrors.ENGLISH else text


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
        return said(detail, language)
    if times and code in WORDS_WITH_TIMES and all(times.values()):
        return gettext(WORDS_WITH_TIMES[Reason(code)]).format(**times)
    try:
        words = WORDS[Reason(code)]
    except ValueError:  # a code from a newer version: show what we have
        return detail or code
    detail = said(detail, language)
    if code == Reason.SEND_ERROR:
        return detail
    if code in _OPTED_OUT:
        if not detail:
            return gettext(_OPTED_OUT_COUNTED[code])
        day, _sep, source = detail.partition("|")
        source_words = opt_out_source(source, gettext)
        return gettext(words).format(date=_day(day[:10], language), source=source_words)
    return gettext(words).format(detail=detail)
