"""The one-line text field every screen uses.

Textual's Input selects all its text when it gets focus, so the first key typed
replaces what was there: staff pressing `e` then typing lost a campaign's whole name.
Here focus never selects; the text is replaced only when the user selects it."""

from __future__ import annotations

from textual.widgets import Input


class TextInput(Input):
    def __init__(self, *args, select_on_focus: bool = False, **kw) -> None:
        super().__init__(*args, select_on_focus=select_on_focus, **kw)
