"""Where a flow's failure shows, and whether a flow is still running — functions any
node with workers calls (screens/base.py's screens, the widgets that search or page).

A flow reads top to bottom as one coroutine run as a worker of its screen: ask core (in
a thread), confirm, act (in a thread), say what was done — `RecipientFlows._remove` in
screens/recipient_flows.py, started by `run_worker` in its `_run`::

    effects = {i18n.current(): await asyncio.to_thread(recipients.removal_effect, ctx, ...)}
    if not await screen.app.push_screen_wait(confirm):
        return
    outcome = await asyncio.to_thread(recipients.remove, screen.app.ctx, screen.campaign_id, r.emr_id)
    screen.notify(said, markup=False, timeout=6)

A new flow starts its worker as `SendingControl._start` does (screens/sending.py): it
asks `running(node, group)` itself before it makes the coroutine; CONTRIBUTING.md's "How
a TUI flow is written" says why.

The core runs in a thread (``asyncio.to_thread``) so the screen never freezes; the rest
runs on the event loop, so it may touch widgets. An exclusive group cancels the older
worker when a newer one starts (a newer search wins: the cancelled coroutine never gets
past its ``await``). A flow that shows an error beside a field catches ClinicastError
itself; anything else it raises ends the worker, and `report_failure` makes it a
one-line notice where the eye is. Never a traceback.
"""

from __future__ import annotations

import time
from weakref import WeakKeyDictionary

from peewee import PeeweeException
from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from core.errors import ClinicastError
from core.i18n import _

NOTICE_SECONDS = 8
# per app: when each error text was last said (the same words while they are still on screen
# are not said again)
_SAID: WeakKeyDictionary[object, dict[str, float]] = WeakKeyDictionary()


def error_text(error: BaseException) -> str:
    if isinstance(error, ClinicastError):
        return str(error)
    if isinstance(error, PeeweeException):  # locked, read-only, full: core's words and what to do
        from core.db import explain

        return str(explain(error))
    return _("unexpected error ({kind}): {error}").format(kind=type(error).__name__, error=error)


def report_failure(node: DOMNode, event: Worker.StateChanged) -> None:
    """A worker of `node` ended with an error: one notice (its handler calls this)."""
    if event.state == WorkerState.ERROR and event.worker.error is not None:
        show_error(node, event.worker.error)


def show_error(node: DOMNode, error: BaseException) -> None:
    if not isinstance(error, ClinicastError):
        node.log.error(repr(error))
    text = error_text(error)
    said = _SAID.setdefault(node.app, {})
    now = time.monotonic()
    if now - said.get(text, -NOTICE_SECONDS) < NOTICE_SECONDS:
        return  # one notice per refusal, not one per worker it stopped (a screen loads in several)
    said[text] = now
    node.app.notify(text, title=_("Not done"), severity="error", markup=False, timeout=NOTICE_SECONDS)


def running(node: DOMNode, group: str) -> bool:
    """A flow of `group` started by `node` is not over yet: pressing its key again does
    nothing (the worker's own state, so nothing to reset when it fails)."""
    return any(w.group == group and w.node is node and not w.is_finished for w in node.app.workers)
