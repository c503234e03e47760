"""Command palette (ctrl+p): the actions of the current screen, "open campaign …", the
language switch ("Language: Français" / "Language: English", found by its name in either
language: "lang", "langue", "fran", "English", "anglais") and Textual's own commands in
the language in use — from one provider, so the palette lists them in one stable order
(with two providers, their hits arrive in the order the providers answer)."""

from __future__ import annotations

from collections.abc import Callable

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.widgets.option_list import Option

from core.i18n import _


class CampaignCommands(Provider):
    """Asks the current screen for its commands: `palette_commands() -> [(name, help, callback)]`
    (each already in the language in use), then the app for the language switch and for
    its system commands (`get_system_commands`: keys, theme, screenshot…)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object], str, bool]]:
        screen = self.screen
        get = getattr(screen, "palette_commands", None)
        found = [(name, help_text, callback, "", True) for name, help_text, callback in (get() if get else [])]
        languages = getattr(self.app, "language_commands", None)
        found += [(*command, True) for command in (languages() if languages else [])]
        for command in self.app.get_system_commands(screen):
            found.append((command.title, command.help, command.callback, "", command.discover))
        return found

    async def discover(self) -> Hits:
        for name, help_text, callback, _more, discover in self._commands():
            if discover:
                yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, more, _discover in self._commands():
            score = max([matcher.match(name), *(matcher.match(word) for word in more.split())])
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class Palette(CommandPalette):
    """Textual's command palette, its "No matches found" in the language in use.

    Textual writes those words in the one method that shows them after a search found
    nothing (`_start_no_matches_countdown`, the palette's only English of its own: the
    placeholder is a parameter); this is that method with the words translated, the
    option keeping Textual's id so that the next search removes it as Textual does.
    tests/test_tui_language.py fails if a Textual upgrade shows the English again."""

    def _start_no_matches_countdown(self, search_value: str) -> None:
        self._stop_no_matches_countdown()

        def show() -> None:
            if search_value:  # discover mode (nothing typed) with nothing to offer says nothing
                self.query_one(CommandList).add_option(
                    Option(
                        Align.center(Text(_("No matches found"), style="not bold")), disabled=True, id=self._NO_MATCHES
                    )
                )
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show)
