"""Keys typed ahead, as they arrive over a slow SSH connection, taken in the order typed
(the staff's day, SPEC §13): a priority binding's action runs behind the keys typed
before it (`typed_first`); a key that may move the focus (tab, `/`, a list's keys) is
handled before the keys after it are given to whoever has the focus then (`on_event`);
a key queued for the screen beneath a dialog that just opened goes to the dialog
(`on_key`); f10 asks before losing unsaved changes. The app's part; ClinicastApp
inherits it and sets the state below in its __init__."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from textual import events
from textual.app import App
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, TextArea

# the longest the keys after a focus-moving key wait for it to be handled, should its
# marker be lost (the widget it went to removed meanwhile): then they go on as they are
HOLD_AT_MOST = 0.3


class AfterTyped(Message):
    """`ClinicastApp.after_typed`'s callback, on its way up from the focused widget to the
    app: it bubbles through the same queues, behind the keys typed before it, which reach
    the app's bindings (a ↓ in a list) before it does."""

    def __init__(self, callback: Callable[[], object]) -> None:
        super().__init__()
        self.callback = callback


def typed_first(action: Callable[..., None]) -> Callable[..., None]:
    """A priority binding's action (ctrl+o in a form, enter on the campaign list), run once
    the keys typed before it are in (`TypedAhead.after_typed`): bound first, it would see
    a name without its last letters, the row above the one chosen."""

    @functools.wraps(action)
    def deferred(self: Any, *args: Any) -> None:
        self.app.after_typed(functools.partial(action, self, *args))

    return deferred


class TypedAhead(App[int]):
    """Keys typed ahead; ClinicastApp's __init__ sets the state below."""

    _typed_ahead: set[events.Key]  # keys dispatched again (on_key)
    _held: list[events.Key] | None = None  # keys waiting for a focus-moving key (on_event)
    _hold_timer: Timer | None = None

    async def on_event(self, event: events.Event) -> None:
        """Keys go to the widget focused when they reach the app — while the keys before
        them may still wait in that widget's queue. Over SSH a Tab and the next field's
        text arrive together: the text went to the field the Tab was leaving; « /tre » on
        the campaign list gave the t to the list (its template key) before the filter had
        the focus. So after a key that may move the focus — anything but a character typed
        into a text field — the keys that follow wait until it has been handled (a marker
        behind it comes back up: `after_typed`), then go to whoever has the focus."""
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        if self._held is not None:
            self._held.append(event)
            return
        focused = self.focused
        settles = not (isinstance(focused, Input | TextArea) and event.is_printable)
        await super().on_event(event)
        if settles and self._held is None:
            self._held = []
            self._hold_timer = self.set_timer(HOLD_AT_MOST, self._let_go)
            # the marker follows the key; then what handling it posted settles (a choice's
            # Changed, which shows the broadcast's dates the next Tab must reach) before
            # the screen is drawn again
            self.after_typed(lambda: self.call_after_refresh(self._let_go))

    def _let_go(self) -> None:
        """The key held for is handled (or took too long): the keys after it, in order."""
        if self._held is None:
            return
        held, self._held = self._held, None
        if self._hold_timer is not None:
            self._hold_timer.stop()
            self._hold_timer = None
        for key in held or ():
            self.post_message(events.Key(key.key, key.character))

    def after_typed(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the focused widget has handled every key typed before the
        one being handled now. A priority binding (ctrl+o, f10, enter on the campaign
        list) runs as its key reaches the app, while the keys typed just before it may
        still wait in the focused widget's queue — over SSH a burst arrives at once: a
        name's last letters, a ↓ in a list. Queued behind them, `callback` sees what the
        staff member typed (a save without its last letters, the campaign above the one
        chosen)."""
        focused = self.focused
        marker = AfterTyped(callback)
        # sent by the app: Textual stops a message's bubbling at the node that sent it, and
        # one made in a screen's handler (enter in a form's field: Input.Submitted) never
        # came back up to the app — the opt-out's note and enter recorded nothing
        marker._sender = self
        if focused is None or not focused.post_message(marker):
            callback()

    def on_after_typed(self, message: AfterTyped) -> None:
        message.callback()

    async def action_quit(self) -> None:
        """f10, ctrl+q: quit — once the keys typed before are in; a form with unsaved
        changes asks first, as its escape does (the top one that has any)."""
        self.after_typed(self._quit_unless_unsaved)

    def _quit_unless_unsaved(self) -> None:
        from tui.screens.modals import leave_unless_unsaved

        for screen in reversed(self.screen_stack):
            unsaved = getattr(screen, "unsaved", None)
            if unsaved is not None and unsaved() is not None:
                leave_unless_unsaved(screen, self.exit, quitting=True)
                return
        self.exit()

    def on_key(self, event: events.Key) -> None:
        """A key that came back up unhandled although the screen on top binds it first
        (a priority binding, checked before any widget sees a key): it was typed ahead
        and queued for the screen beneath before this one opened — over SSH `a` and F4
        often arrive in one burst. It is dispatched again, to the screen now on top."""
        if event in self._typed_ahead:
            self._typed_ahead.discard(event)  # once only, whatever became of it
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.binding.priority and active.enabled:
            event.prevent_default()  # not the bindings of the screen beneath
            event.stop()
            again = events.Key(event.key, event.character)
            if len(self._typed_ahead) > 64:  # those a binding took never come back
                self._typed_ahead.clear()
            self._typed_ahead.add(again)
            self.post_message(again)
