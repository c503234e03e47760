"""Campaigns: create, edit, archive, list; status and window rules (SPEC §2).

window.py   a broadcast's window: bounds, upcoming / live / ended, invalid
reads.py    get, get_locked, status, summaries (counts, the invitation funnel), templates
actions.py  create, edit, archive; the field and template checks they share with the form
"""

from __future__ import annotations

from core.campaigns.actions import INVITATION_VALID_DAYS, archive, create, edit, save_templates, validate_fields
from core.campaigns.actions import NAME_MAX as NAME_MAX
from core.campaigns.actions import clinic_values as clinic_values
from core.campaigns.actions import parse_day as parse_day
from core.campaigns.actions import template_problems as template_problems
from core.campaigns.reads import DRAFT as DRAFT
from core.campaigns.reads import SENDING as SENDING
from core.campaigns.reads import SENT_WITH_ERRORS as SENT_WITH_ERRORS
from core.campaigns.reads import STATUS_SENT as STATUS_SENT
from core.campaigns.reads import TEMPLATE_FIELDS as TEMPLATE_FIELDS
from core.campaigns.reads import CampaignSummary, Facts, get, get_templates, held_words, status_of, summaries, summary
from core.campaigns.reads import get_locked as get_locked
from core.campaigns.window import ENDED as ENDED
from core.campaigns.window import INVALID as INVALID
from core.campaigns.window import LIVE as LIVE
from core.campaigns.window import UPCOMING as UPCOMING
from core.campaigns.window import require_valid_window as require_valid_window
from core.campaigns.window import window_bounds, window_state
from core.campaigns.window import window_valid as window_valid

# the names outside __all__ are imported `as` themselves: importable from here as before
# the split (get_locked, template_problems, clinic_values, ... for core.recipients and others)
__all__ = [
    "CampaignSummary",
    "archive",
    "create",
    "edit",
    "get",
    "get_templates",
    "save_templates",
    "status_of",
    "Facts",
    "held_words",
    "summaries",
    "summary",
    "validate_fields",
    "window_bounds",
    "window_state",
    "INVITATION_VALID_DAYS",
]
