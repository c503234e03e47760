"""Command palette (ctrl+p): the actions of the current screen, and "open campaign …"."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider


class CampaignCommands(Provider):
    """Asks the current screen for its commands: `palette_commands() -> [(name, help, callback)]`."""

    def _commands(self):
        screen = self.screen
        get = getattr(screen, "palette_commands", None)
        return list(get()) if get else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
