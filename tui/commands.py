"""Command palette (ctrl+p): the actions of the current screen, "open campaign …", and
the language switch ("Language: Français" / "Language: English"), found by its name in
either language ("lang", "langue", "fran", "English", "anglais")."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider


class CampaignCommands(Provider):
    """Asks the current screen for its commands: `palette_commands() -> [(name, help, callback)]`
    (each already in the language in use), and the app for the language switch."""

    def _commands(self) -> list[tuple[str, str, object, str]]:
        screen = self.screen
        get = getattr(screen, "palette_commands", None)
        found = [(name, help_text, callback, "") for name, help_text, callback in (get() if get else [])]
        languages = getattr(self.app, "language_commands", None)
        return found + (list(languages()) if languages else [])

    async def discover(self) -> Hits:
        for name, help_text, callback, _more in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, more in self._commands():
            score = max([matcher.match(name), *(matcher.match(word) for word in more.split())])
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)  # type: ignore[arg-type]
