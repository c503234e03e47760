"""Opt-outs (SPEC §10): clinicast's own record of who said no, and how it reaches sending.

ledger.py       record, clear, apply, for_patient, KeptByImport: the opt-out rows and their rules
feed.py         pull: the gateway's opt-out feed, read on every scheduler tick
unsubscribe.py  url, link: each patient's personal unsubscribe link and its token

Import what you use from the module it lives in: this package's __init__ imports nothing,
so that delivery can read `unsubscribe` while the ledger cancels through delivery's store.
"""
