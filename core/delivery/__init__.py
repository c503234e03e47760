"""Delivery: the outbox's rows on their way out, exactly once (SPEC §5).

dispatcher.py  Dispatcher: a pass at a time; owns the loop, threads and transports
pipeline.py    Pass: claim → prepare → hand over → send → record
prepare.py     claimed rows made into jobs (pushes grouped into requests of 500)
lease.py       the leases of the rows a dispatcher holds, renewed while it works
handover.py    the checks at the moment of sending, and the hand-over itself
joining.py     HandOvers: the workers' hand-overs joined in transactions that record their answers
kinds.py       one handler per delivery kind (HANDLERS): group, check, send; the
               `Tools` of its dispatcher a handler uses
letters.py     emails written for sending: rendered, identified, serialised
testsend_kinds.py  the handlers of test sends (TEST_HANDLERS): to staff, not patients
recording.py   a pass's answers written in batches, counted and logged; the channels' health they note
results.py     writing results, guarded by claim or hand-over token; recipients follow
store.py       claiming with leases, renewing, releasing; what "in flight" means; one_of (ids in one step)
retry.py       the retry policy (backoff, Retry-After, unknown outcomes)
invitations.py codes and links, made with an email's hand-over
logfmt.py      one key=value line per event
retention.py   finished outbox rows deleted after [database] keep_deliveries_days

The relay's pace ([email] max_per_minute and max_per_day, all dispatchers together) is
core.pace, outside this package: the start's confirmation and `clinicast status` read it too.
"""

from core.delivery.dispatcher import Dispatcher
from core.delivery.logfmt import event, fmt, worker_name
from core.delivery.pipeline import PassStats

__all__ = ["Dispatcher", "PassStats", "event", "fmt", "worker_name"]
