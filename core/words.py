"""The stored codes a person reads, in their language (SPEC §12): a campaign's kind,
channel, status and window, a recipient's status, a delivery's kind and state, an
opt-out's channel and source, a patient's fields. The codes themselves stay English in
`--json` and the database. The TUI and the command line both show them through `word`
(the reasons' words: core.reasons.describe), and an invitation's funnel through
`funnel_steps` (its counts with their plurals).

`pgettext`: one English word is two French ones ("sent": a campaign « envoyée », a
recipient « envoyé »). A code this version does not know is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.i18n import ngettext, pgettext

# (context, code) — each pgettext call is written out so that Babel extracts it
_WORDS = {
    ("kind", "invitation"): lambda: pgettext("kind", "invitation"),
    ("kind", "broadcast"): lambda: pgettext("kind", "broadcast"),
    ("channel", "email"): lambda: pgettext("channel", "email"),
    ("channel", "app"): lambda: pgettext("channel", "app"),
    ("channel", "push"): lambda: pgettext("channel", "push"),
    ("channel", "feed"): lambda: pgettext("channel", "feed"),
    ("channel", "all"): lambda: pgettext("channel", "all"),
    ("campaign", "draft"): lambda: pgettext("campaign status", "draft"),
    ("campaign", "published"): lambda: pgettext("campaign status", "published"),
    ("campaign", "sending"): lambda: pgettext("campaign status", "sending"),
    ("campaign", "stopped"): lambda: pgettext("campaign status", "stopped"),
    ("campaign", "sent"): lambda: pgettext("campaign status", "sent"),
    ("campaign", "sent with errors"): lambda: pgettext("campaign status", "sent with errors"),
    ("recipient", "assigned"): lambda: pgettext("recipient status", "assigned"),
    ("recipient", "queued"): lambda: pgettext("recipient status", "queued"),
    ("recipient", "sent"): lambda: pgettext("recipient status", "sent"),
    ("recipient", "retrying"): lambda: pgettext("recipient status", "retrying"),
    ("recipient", "failed"): lambda: pgettext("recipient status", "failed"),
    ("recipient", "skipped"): lambda: pgettext("recipient status", "skipped"),
    ("recipient", "removed"): lambda: pgettext("recipient status", "removed"),
    ("recipient", "in feed, no push"): lambda: pgettext("recipient status", "in feed, no push"),
    ("recipient", "will receive nothing"): lambda: pgettext("recipient status", "will receive nothing"),
    ("window", "upcoming"): lambda: pgettext("window", "upcoming"),
    ("window", "live"): lambda: pgettext("window", "live"),
    ("window", "ended"): lambda: pgettext("window", "ended"),
    ("window", "invalid"): lambda: pgettext("window", "invalid"),
    ("delivery", "pending"): lambda: pgettext("delivery state", "pending"),
    ("delivery", "sending"): lambda: pgettext("delivery state", "sending"),
    ("delivery", "sent"): lambda: pgettext("delivery state", "sent"),
    ("delivery", "retrying"): lambda: pgettext("delivery state", "retrying"),
    ("delivery", "failed"): lambda: pgettext("delivery state", "failed"),
    ("delivery", "skipped"): lambda: pgettext("delivery state", "skipped"),
    ("delivery", "cancelled"): lambda: pgettext("delivery state", "cancelled"),
    ("delivery kind", "email"): lambda: pgettext("delivery kind", "email"),
    ("delivery kind", "push"): lambda: pgettext("delivery kind", "push"),
    ("delivery kind", "publish"): lambda: pgettext("delivery kind", "publish"),
    ("delivery kind", "unpublish"): lambda: pgettext("delivery kind", "unpublish"),
    ("delivery kind", "put"): lambda: pgettext("delivery kind", "put"),
    ("delivery kind", "expire"): lambda: pgettext("delivery kind", "expire"),
    ("delivery kind", "test_email"): lambda: pgettext("delivery kind", "test email"),
    ("delivery kind", "test_broadcast"): lambda: pgettext("delivery kind", "test broadcast"),
    ("source", "link"): lambda: pgettext("opt-out source", "link"),
    ("source", "app"): lambda: pgettext("opt-out source", "app"),
    ("source", "staff"): lambda: pgettext("opt-out source", "staff"),
    ("field", "emr_id"): lambda: pgettext("patient field", "EMR id"),
    ("field", "first_name"): lambda: pgettext("patient field", "first name"),
    ("field", "last_name"): lambda: pgettext("patient field", "last name"),
    ("field", "date_of_birth"): lambda: pgettext("patient field", "date of birth"),
    ("field", "sex"): lambda: pgettext("patient field", "sex"),
    ("field", "language"): lambda: pgettext("patient field", "language"),
    ("field", "email"): lambda: pgettext("patient field", "email"),
    ("field", "phone"): lambda: pgettext("patient field", "phone"),
    ("field", "app_id"): lambda: pgettext("patient field", "app account"),
    ("field", "marketing_consent"): lambda: pgettext("patient field", "marketing consent"),
    ("field", "push_enabled"): lambda: pgettext("patient field", "push notifications"),
    ("field", "do_not_contact"): lambda: pgettext("patient field", "do not contact"),
    ("field", "practitioner"): lambda: pgettext("patient field", "practitioner"),
    ("field", "postal_code"): lambda: pgettext("patient field", "postal code"),
    ("field", "last_visit"): lambda: pgettext("patient field", "last visit"),
    ("audit", "archive"): lambda: pgettext("audit action", "archive"),
    ("audit", "unarchive"): lambda: pgettext("audit action", "unarchive"),
    ("audit", "create"): lambda: pgettext("audit action", "create"),
    ("audit", "edit"): lambda: pgettext("audit action", "edit"),
    ("audit", "assign"): lambda: pgettext("audit action", "assign"),
    ("audit", "remove"): lambda: pgettext("audit action", "remove"),
    ("audit", "start"): lambda: pgettext("audit action", "start"),
    ("audit", "stop"): lambda: pgettext("audit action", "stop"),
    ("audit", "reinvite"): lambda: pgettext("audit action", "re-invite"),
    ("audit", "test_send"): lambda: pgettext("audit action", "test send"),
    ("audit", "import"): lambda: pgettext("audit action", "import"),
    ("audit", "opt_out"): lambda: pgettext("audit action", "opt-out"),
    ("audit", "opt_in"): lambda: pgettext("audit action", "opt-in"),
    ("audit", "patient_search"): lambda: pgettext("audit action", "patient search"),
    ("audit", "patient_show"): lambda: pgettext("audit action", "patient shown"),
    ("audit", "preview"): lambda: pgettext("audit action", "preview"),
    ("audit", "export"): lambda: pgettext("audit action", "export"),
    ("bool", "True"): lambda: pgettext("answer", "yes"),
    ("bool", "False"): lambda: pgettext("answer", "no"),
}


def word(what: str, code: object) -> str:
    """The words for `code` in the language in use. `what`: "kind", "channel", "campaign"
    (its status), "recipient" (its status), "window" (its state),
    "delivery" (its state), "delivery kind", "source" (an opt-out's), "field" (a patient's),
    "bool", "audit" (an audit trail's action). A code this version does not know is shown as it is."""
    text = "" if code is None else str(code)
    found = _WORDS.get((what, text))
    return found() if found else text


def funnel_steps(funnel: Mapping[str, int]) -> str:
    """An invitation campaign's funnel said with its counts, each with its own plural:
    "5 invited, 1 joined, 4 expired" (« 5 invités, 1 inscrit, 4 expirés »), then how many
    were re-invited when some were. `campaigns show` and the TUI's two screens say it
    alike (the label-then-number « invités 1 » agreed with no count)."""
    from core.formats import number  # Babel's numbers: imported when a funnel is said

    def n(step: str) -> str:
        return number(funnel.get(step, 0))

    steps = [
        ngettext("{n} invited", "{n} invited", funnel.get("invited", 0)).format(n=n("invited")),
        ngettext("{n} joined", "{n} joined", funnel.get("joined", 0)).format(n=n("joined")),
        ngettext("{n} expired", "{n} expired", funnel.get("expired", 0)).format(n=n("expired")),
    ]
    if funnel.get("reinvited"):
        steps.append(ngettext("{n} re-invited", "{n} re-invited", funnel["reinvited"]).format(n=n("reinvited")))
    return ", ".join(steps)


__all__ = ["funnel_steps", "word"]
