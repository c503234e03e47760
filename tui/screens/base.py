"""What every clinicast screen shares: the app, typed (`self.app` is a ClinicastApp, so
`self.app.ctx` is checked), and flows as linear workers whose failures show as one
notice (tui/workers.py says how a flow is written)."""

from __future__ import annotations

from typing import Any, TypeVar

from textual import getters
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from tui import workers
from tui.app import ClinicastApp

ResultT = TypeVar("ResultT")


class ClinicastScreen(Screen[ResultT]):
    """A screen of the clinicast app."""

    app = getters.app(ClinicastApp)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        workers.report_failure(self, event)

    def running(self, group: str) -> bool:
        return workers.running(self, group)


class ClinicastModal(ModalScreen[ResultT], ClinicastScreen[ResultT]):
    """A modal screen of the clinicast app (a dialog over the screen below)."""


AnyScreen = ClinicastScreen[Any]
