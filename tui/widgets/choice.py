"""A RadioSet whose arrow keys choose at once (one key, not arrow then space)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import RadioButton, RadioSet


class Choice(RadioSet):
    """↑/↓ (and ←/→) move the highlight and press the button they land on.

    The arrows are bound to actions of their own: RadioSet's `action_next_button` is
    also what it calls when mounted, to highlight the first button; pressing there
    turned the initially chosen button off before RadioSet recorded it as pressed, so
    the next arrow left two buttons on. Pressing sets the button on (never toggles it):
    RadioSet then turns the previously pressed one off.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,right", "choose_next", show=False),
        Binding("up,left", "choose_previous", show=False),
    ]

    def action_choose_next(self) -> None:
        self.action_next_button()
        self._press_highlighted()

    def action_choose_previous(self) -> None:
        self.action_previous_button()
        self._press_highlighted()

    def _press_highlighted(self) -> None:
        if self._selected is None:
            return
        button = self._nodes[self._selected]
        if isinstance(button, RadioButton) and not button.value:
            button.value = True
