"""Opt-outs (SPEC §10): clinicast's own record of who said no, and how it reaches sending.

ledger.py       record, clear, apply, KeptByImport: the opt-out rows and their rules
history.py      for_patient: a patient's opt-out rows as staff read them (reads only)
feed.py         pull: the gateway's opt-out feed, read on every scheduler tick
unsubscribe.py  url, link: each patient's personal unsubscribe link and its token

Import what you use from the module it lives in: this package's __init__ imports nothing,
so that delivery can read `unsubscribe` while the ledger cancels through delivery's store.
"""
