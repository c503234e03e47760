"""Campaigns: create, edit, archive, list; status and window rules (SPEC §2).

window.py   a broadcast's window: bounds, upcoming / live / ended, invalid
reads.py    get, get_locked, status_of, summaries (counts, the invitation funnel), templates
trail.py    history: who created, started and stopped it, and when (the audit trail's rows)
actions.py  create, edit, archive; the field and template checks they share with the form
languages.py  who would get another language than their own (a blank version); the
              versions a template file left out (kept)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.campaigns.actions import (
        INVITATION_VALID_DAYS,
        archive,
        archive_refusal,
        clinic_values,
        create,
        edit,
        save_templates,
        validate_fields,
    )
    from core.campaigns.languages import KeptVersion, LanguageGap, kept_versions, language_gaps
from core.campaigns.reads import (
    CampaignSummary,
    funnel,
    get,
    get_templates,
    status_of,
    statuses_of,
    summaries,
    summary,
)
from core.campaigns.trail import CampaignHistory, history
from core.campaigns.window import window_bounds, window_state

# the staff's actions and reads; anything else is imported from the module it lives in
__all__ = [
    "CampaignHistory",
    "CampaignSummary",
    "KeptVersion",
    "LanguageGap",
    "kept_versions",
    "language_gaps",
    "archive",
    "archive_refusal",
    "clinic_values",
    "create",
    "edit",
    "funnel",
    "get",
    "get_templates",
    "history",
    "save_templates",
    "status_of",
    "statuses_of",
    "summaries",
    "summary",
    "validate_fields",
    "window_bounds",
    "window_state",
    "INVITATION_VALID_DAYS",
]

# the actions load the templating (Jinja, Markdown) with them: imported when first used,
# so a command that only reads (`campaigns list`, `status`) never pays for it (issue #21)
_ACTIONS = frozenset(
    (
        "INVITATION_VALID_DAYS",
        "archive",
        "archive_refusal",
        "clinic_values",
        "create",
        "edit",
        "save_templates",
        "validate_fields",
    )
)


def __getattr__(name: str) -> Any:
    if name in _ACTIONS:
        from core.campaigns import actions

        return getattr(actions, name)
    # they read the templating's languages: loaded when used
    if name in ("KeptVersion", "LanguageGap", "kept_versions", "language_gaps"):
        from core.campaigns import languages

        return getattr(languages, name)
    raise AttributeError(f"module 'core.campaigns' has no attribute {name!r}")
