"""A RadioSet whose arrow keys choose at once (one key, not arrow then space)."""

from __future__ import annotations

from textual.widgets import RadioSet


class Choice(RadioSet):
    def action_next_button(self) -> None:
        super().action_next_button()
        self.action_toggle_button()

    def action_previous_button(self) -> None:
        super().action_previous_button()
        self.action_toggle_button()
