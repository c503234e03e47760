"""The one-line text field every screen uses.

Textual's Input selects all its text when it gets focus, so the first key typed
replaces what was there: staff pressing `e` then typing lost a campaign's whole name.
Here focus never selects; the text is replaced only when the user selects it.

A list pasted into a field (several lines: a column copied from a spreadsheet; terminals
send it as one bracketed paste) inside a screen that reads pasted lists
(`accepts_pasted_lists = True`) goes to that screen whole as `TextInput.ListPasted` —
Input's own paste keeps the first line and drops the rest without a word."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import Input


def is_list(text: str) -> bool:
    """Several non-blank lines."""
    return len([line for line in text.splitlines() if line.strip()]) > 1


class TextInput(Input):
    class ListPasted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *args, select_on_focus: bool = False, **kw) -> None:
        super().__init__(*args, select_on_focus=select_on_focus, **kw)

    def _on_paste(self, event: events.Paste) -> None:
        if is_list(event.text) and any(getattr(node, "accepts_pasted_lists", False) for node in self.ancestors):
            event.prevent_default()  # not Input's paste, which keeps the first line
            event.stop()
            self.post_message(self.ListPasted(event.text))
