"""Opt-outs (SPEC §10): clinicast's own record of who said no, and how it reaches sending.

ledger.py       record, clear, apply, for_patient, KeptByImport: the opt-out rows and their rules
feed.py         pull: the gateway's opt-out feed, read on every scheduler tick
unsubscribe.py  url, link: each patient's personal unsubscribe link and its token
"""

from __future__ import annotations

from core.optouts.ledger import (
    KeptByImport,
    OptOutRow,
    Recorded,
    apply,
    clear,
    clear_from_app,
    for_patient,
    record,
)

__all__ = ["OptOutRow", "Recorded", "apply", "clear", "clear_from_app", "for_patient", "KeptByImport", "record"]
