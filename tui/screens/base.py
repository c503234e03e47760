"""What every screen shares: thread workers whose results and failures come back to it.

A worker method named ``_load`` hands its result to ``_load_done(result)`` on the screen
(only if it was not cancelled, so a stale search never overwrites a newer one); if it
raises, ``_load_failed(error)`` may show the error beside a field (return True), else
the error's one-line message becomes a notice. Never a traceback.
"""

from __future__ import annotations

import inspect

from peewee import PeeweeException
from textual.worker import Worker, WorkerState

from core.errors import ClinicastError


def error_text(error: BaseException) -> str:
    if isinstance(error, ClinicastError):
        return str(error)
    if isinstance(error, PeeweeException):  # locked, read-only, full: core's words and what to do
        from core.db import explain

        return str(explain(error))
    return f"unexpected error ({type(error).__name__}): {error}"


class WorkerResults:
    """Mixin for Screen / ModalScreen / Widget classes that run thread workers."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.SUCCESS:
            handler = getattr(self, f"{worker.name}_done", None)
            if handler is not None:
                if inspect.iscoroutinefunction(handler):
                    self.call_later(handler, worker.result)
                else:
                    handler(worker.result)
        elif event.state == WorkerState.ERROR:
            error = worker.error
            handler = getattr(self, f"{worker.name}_failed", None)
            if handler is not None and handler(error):
                return
            self.show_error(error)

    def show_error(self, error: BaseException) -> None:
        if not isinstance(error, ClinicastError):
            self.log.error(repr(error))
        self.app.notify(error_text(error), title="Not done", severity="error", markup=False, timeout=8)
