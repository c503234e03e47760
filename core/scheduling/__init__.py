"""The scheduler (SPEC §5): what runs on the clock, in the daemon and embedded in the TUI.

scheduler.py  Scheduler: publish, expire, dispatch, retry, catch-up, the opt-out feed
embedded.py   EmbeddedScheduler: the TUI's scheduler, only while no daemon is alive
heartbeat.py  beat, live_daemons, something_sends: who is sending, seen from the database
daemon.py     run: `clinicast daemon`, its signals and its key=value log
trail.py      guard_the_trail_head: the audit trail's newest row, kept where staff cannot write
"""
