"""What every clinicast screen shares: the app, typed (`self.app` is a ClinicastApp, so
`self.app.ctx` is checked), and flows as linear workers whose failures show as one
notice (tui/workers.py says how a flow is written).

The staff's language (SPEC §12): `BINDINGS` descriptions and tooltips are English msgids
marked with `N_()` (a class body runs at import, before anyone's language is known);
`active_bindings` hands them translated to the footer and the keys screen, in the
language in use when they are drawn. A language switch from the palette calls
`relabel()` on every screen of the stack: the title (`title_text()`), the footer, the
status line; a screen that built other words in compose or on mount redraws them in its
own `relabel()` (calling `super().relabel()`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from textual import getters
from textual.binding import ActiveBinding, Binding
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from core.i18n import N_
from tui import workers
from tui.app import ClinicastApp
from tui.keys import tr

ResultT = TypeVar("ResultT")


def translated_bindings(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """The same bindings, their descriptions and tooltips in the language in use."""
    return {
        key: ActiveBinding(
            a.node,
            replace(a.binding, description=tr(a.binding.description), tooltip=tr(a.binding.tooltip)),
            a.enabled,
            tr(a.tooltip),
        )
        for key, a in bindings.items()
    }


class ClinicastScreen(Screen[ResultT]):
    """A screen of the clinicast app."""

    app = getters.app(ClinicastApp)
    # The ids of the keys its footer shows first, most needed first; the others follow in
    # the order of their bindings. At 80 columns the footer keeps as many of them as fit
    # and `?` lists the rest (tui/widgets/footer.py). Empty: the bindings' own order.
    FOOTER_ORDER: ClassVar[tuple[str, ...]] = ()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return translated_bindings(super().active_bindings)

    def title_text(self) -> str | None:
        """The screen's title in the language in use (None: the app's)."""
        return None

    def unsaved(self) -> Callable[[], str] | None:
        """What closing this screen now would lose, named in the language in use ("the
        template"); None when nothing. Its escape and f10 ask before losing it
        (tui.screens.modals.leave_unless_unsaved)."""
        return None

    def key_for(self, action: str) -> str:
        """The key that runs `action` on this screen, as its footer shows it: the config's
        [keys] may have moved it (tui.keys), and a hint that names a key names that one."""
        bindings = self._bindings.copy()
        if self.app._keymap:
            bindings.apply_keymap(self.app._keymap)
        for bound in bindings.key_to_bindings.values():
            for binding in bound:
                if binding.action == action:
                    return self.app.get_key_display(binding)
        return action  # not bound here: a programming error, said visibly rather than hidden

    def leave_question(self, quitting: bool) -> Callable[[], str] | None:
        """The question asked before losing what `unsaved()` names, for a screen where the
        shared one ("Leave {what} without saving?") reads wrong; None: the shared one."""
        return None

    def relabel(self) -> None:
        """Redraw the screen's words in the language now in use (after a switch)."""
        title = self.title_text()
        if title is not None:
            self.title = title
        self.refresh_bindings()
        from tui.widgets.status_line import StatusLine

        for line in self.query(StatusLine):
            line.relabel()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        workers.report_failure(self, event)

    def running(self, group: str) -> bool:
        return workers.running(self, group)


class ClinicastModal(ModalScreen[ResultT], ClinicastScreen[ResultT]):
    """A modal screen of the clinicast app (a dialog over the screen below).

    A modal screen keeps the app's bindings from its keys (Textual's modal binding
    chain), so the keys screen's `?` / f1 is bound here again, under the app's id (a
    `[keys]` rebinding moves both): the footer's help key works in every dialog."""

    BINDINGS = [
        Binding(
            "question_mark,f1",
            "app.keys",
            N_("Keys"),
            tooltip=N_("Every key of this screen"),
            show=False,
            id="app.keys",
        ),
    ]


AnyScreen = ClinicastScreen[Any]
