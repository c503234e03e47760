"""Opt-outs (SPEC §10): clinicast's own record of who said no, and how it reaches sending.

ledger.py       record, clear, apply, for_patient, kept_by_import: the opt-out rows and their rules
feed.py         pull: the gateway's opt-out feed, read on every scheduler tick
unsubscribe.py  url, link: each patient's personal unsubscribe link and its token
"""

from __future__ import annotations

from core.optouts.ledger import (
    OptOutRow,
    Recorded,
    apply,
    clear,
    clear_from_app,
    for_patient,
    kept_by_import,
    record,
)

__all__ = ["OptOutRow", "Recorded", "apply", "clear", "clear_from_app", "for_patient", "kept_by_import", "record"]
