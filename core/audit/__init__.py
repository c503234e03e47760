"""The audit trail (SPEC §6): every change and every read of patient data, who and when.

log.py    record: one row per action, written in the action's own transaction
chain.py  the trail as a hash chain: an edit or a deletion shows
read.py   read, search_patients, to_csv: the admin's view of the trail (reads are audited too)
words.py  describe: a row's detail in the reader's language, moments in the clinic's zone
"""

from __future__ import annotations

from core.audit.log import record

__all__ = ["record"]
