"""Recipients (SPEC §4): assign (one, by conditions, from a CSV of EMR ids), remove,
start — and a broadcast's feed. Every effect that must reach the outside world is a
delivery row written in the same transaction as the action (the outbox); the consent
rules are `core.rules`.

    assign.py   one patient, conditions, a list of ids (the 5,000 cap)
    idlist.py   CSV lists of EMR ids, reported by line
    start.py    the breakdown and the start
    stop.py     cancel what was not handed over; recipients back to assigned
    reinvite.py a fresh invitation for those whose invitation expired unanswered
    remove.py   removal, and what "not handed over" / "in flight" mean
    window.py   publish to a live broadcast's feed, expire it at the end
    reads.py    counts and pages
    detail.py   one recipient in full, with the history of their deliveries
    rows.py     writing delivery rows
    lookup.py   patients and recipients found by EMR id (by its key)
    selection.py an assign's temporary tables (the patients picked, a list's EMR keys)
    results.py  what the actions answer (SPEC §7's JSON shapes)
"""

from __future__ import annotations

from core.recipients.assign import (
    LIMIT,
    assign_conditions,
    assign_ids,
    assign_patient,
    check_assignable,
    preview_conditions,
)
from core.recipients.detail import RecipientDetail, detail
from core.recipients.idlist import ID_COLUMNS, PASTE_LIMIT, IdListReport, assign_csv, read_id_list, read_pasted
from core.recipients.reads import counts, page
from core.recipients.reinvite import nothing_to_reinvite, reinvite, reinvite_plan
from core.recipients.remove import removal_effect, remove
from core.recipients.results import AssignPreview, AssignResult, RecipientRow, StartPlan
from core.recipients.start import nothing_to_start, start, start_plan
from core.recipients.stop import StopResult, stop, stop_plan
from core.recipients.window import expire_due, publish_due

__all__ = [
    "ID_COLUMNS",
    "LIMIT",
    "PASTE_LIMIT",
    "AssignPreview",
    "AssignResult",
    "IdListReport",
    "RecipientDetail",
    "RecipientRow",
    "StartPlan",
    "StopResult",
    "assign_conditions",
    "assign_csv",
    "assign_ids",
    "assign_patient",
    "check_assignable",
    "counts",
    "detail",
    "expire_due",
    "nothing_to_reinvite",
    "nothing_to_start",
    "page",
    "preview_conditions",
    "publish_due",
    "read_id_list",
    "read_pasted",
    "reinvite",
    "reinvite_plan",
    "removal_effect",
    "remove",
    "start",
    "start_plan",
    "stop",
    "stop_plan",
]
