"""Small modals returning a typed value with dismiss()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeAlias

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from core.i18n import N_, _, pgettext
from tui.screens.base import ClinicastModal
from tui.widgets.footer import KeysFooter

# A dialog's words: a function saying them in the language in use (called again after a
# language switch from the palette, so an open dialog speaks the new language), or a
# text already translated that stays as it is (data: a name, a path).
Said: TypeAlias = "str | Text | Callable[[], str | Text]"


def say(said: Said) -> str | Text:
    return said() if callable(said) else said


def yes_letter() -> str:
    """The letter of "yes" in the language in use: "y", « o » (oui) in French. It confirms
    as y does, and the footer shows it."""
    return pgettext("the key that answers yes", "y")


class ConfirmModal(ClinicastModal[bool]):
    """Says what will happen and asks yes / no. Enter or y confirms (in French o, for oui,
    too); escape or n cancels. `title`, `message`, `yes` and `no` are each a function
    returning the words in the language in use (`lambda: _("Stop sending")`), so that a
    switch of language while the dialog is open redraws it (`relabel`); the buttons
    default to "Yes" / "Cancel". The footer names each key by its button's words ("y Stop
    sending  n/esc Keep sending"; in French « o Arrêter l'envoi  n/échap Continuer »)."""

    BINDINGS = [
        # described by the buttons' words (`active_bindings`)
        Binding("y", "answer(True)", N_("Yes"), id="confirm.yes"),
        # « o » (oui): the letter of yes in French (`yes_letter`), shown in y's place there;
        # in English the key does nothing (`check_action`)
        Binding("o", "answer_letter('o')", N_("Yes"), show=False, id="confirm.yes_fr"),
        Binding("n,escape", "answer(False)", N_("No"), key_display="n/esc", id="confirm.no"),
    ]

    def __init__(
        self,
        title: Said,
        message: Said,
        yes: Said | None = None,
        no: Said | None = None,
        danger: bool = False,
        *,
        no_first: bool = False,
        notice: bool = False,
    ) -> None:
        super().__init__()
        # only says: one button, `no`'s (enter, n, escape close it), nothing to confirm —
        # y does nothing and is not in the footer; the result is False
        self.notice = notice
        self.dialog_title = title
        self.message = message
        self.yes, self.no, self.danger = yes, no, danger
        self.no_first = no_first  # the focus on "no": enter takes the way that does nothing

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger" if self.danger else "dialog", id="confirm-dialog") as box:
            box.border_title = say(self.dialog_title)
            yield Static(say(self.message), classes="message", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self._words(False), id="no", compact=True)
                if not self.notice:
                    yield Button(
                        self._words(True),
                        id="yes",
                        variant="error" if self.danger else "primary",
                        compact=True,
                    )
        yield KeysFooter()

    def relabel(self) -> None:
        super().relabel()
        self.query_one("#confirm-dialog").border_title = say(self.dialog_title)
        self.query_one(".message", Static).update(say(self.message))
        self.query_one("#no", Button).label = self._words(False)
        for yes in self.query("#yes").results(Button):
            yes.label = self._words(True)

    def _words(self, yes: bool) -> str | Text:
        """A button's words, which its key in the footer says too."""
        if yes:
            return say(self.yes) if self.yes else _("Yes")
        return say(self.no) if self.no else _("Cancel")

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        words = {"confirm.yes": True, "confirm.no": False}
        out = {}
        for key, a in super().active_bindings.items():
            if self.notice and a.binding.id in ("confirm.yes", "confirm.yes_fr"):
                continue
            if a.binding.id in words:
                binding = replace(a.binding, description=str(self._words(words[a.binding.id])))
                if a.binding.id == "confirm.yes" and key == "y" and self._letter_answers():
                    # « o Démarrer »: the key a French user presses
                    binding = replace(binding, key_display=yes_letter())
                a = ActiveBinding(a.node, binding, a.enabled, a.tooltip)
            out[key] = a
        return out

    def _letter_answers(self) -> bool:
        """The language's letter of yes is one this dialog binds besides y (« o »)."""
        letter = yes_letter()
        bound = self._bindings.key_to_bindings.get(letter, [])
        return letter != "y" and any(b.action == f"answer_letter('{letter}')" for b in bound)

    def check_action(self, action: str, parameters) -> bool | None:
        if self.notice and (action == "answer_letter" or (action == "answer" and parameters[0] is True)):
            return False
        if action == "answer_letter":  # « o » answers yes only where it is the letter of yes
            return parameters[0] == yes_letter()
        return True

    def on_mount(self) -> None:
        # a question is read whole: a toast still up (the start's, as she stops at once) lay
        # over its last lines, at 80×24 what a stop leaves in the feed
        self.app.clear_notifications()
        self.query_one("#no" if self.no_first or self.notice else "#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_answer_letter(self, letter: str) -> None:
        if letter == yes_letter():
            self.dismiss(True)


def leave_unless_unsaved(screen, leave: Callable[[], object], *, quitting: bool = False) -> None:
    """Escape on a form (or f10 anywhere, `quitting`): `leave()` at once when the form has
    nothing unsaved (`screen.unsaved()`, which names it: "the template"), else ask first —
    staff never lose an edit without a word."""
    what = screen.unsaved()
    drop_draft = getattr(screen, "drop_draft", None)  # the editor's draft (core/drafts.py) goes too
    if what is None:
        if drop_draft is not None:
            drop_draft()
        leave()
        return
    if any(w.group == "leave" and w.node is screen and not w.is_finished for w in screen.app.workers):
        return  # already asking

    own = screen.leave_question(quitting)
    if own is not None:
        question = own
    elif quitting:
        question = lambda: _("Quit clinicast without saving {what}? Your changes will be lost.").format(what=what())  # noqa: E731
    else:
        question = lambda: _("Leave {what} without saving? Your changes will be lost.").format(what=what())  # noqa: E731

    async def ask() -> None:
        confirm = ConfirmModal(
            lambda: _("Unsaved changes"),
            question,
            yes=(lambda: _("Quit")) if quitting else (lambda: _("Discard")),
            no=lambda: _("Keep editing"),
            danger=True,
        )
        if await screen.app.push_screen_wait(confirm):
            if drop_draft is not None:
                drop_draft()
            leave()

    screen.run_worker(ask(), exclusive=True, group="leave", exit_on_error=False)
