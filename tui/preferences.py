"""A staff member's own choices in the TUI, remembered for their login (core.preferences):
the theme (the palette's "Change theme") and the language (SPEC §12). The app's part
that reads, applies and saves them; ClinicastApp inherits it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from core import i18n
from core.context import Ctx
from core.i18n import _

# Each language in its own name (never translated): what the palette's switch offers
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


class StaffPreferences(App[int]):
    """The theme and the language a staff member chose; ClinicastApp's __init__ sets the
    state below."""

    session: Ctx | None
    _switched_to: str | None  # the language chosen in this session (palette)
    _saved_theme: str  # the theme core.preferences holds for this staff member
    _theme_watched: bool

    if TYPE_CHECKING:  # ClinicastApp's

        @property
        def ctx(self) -> Ctx: ...

        def _relabel(self) -> None: ...

    # --- the theme -------------------------------------------------------------------

    async def _remembered_theme(self, ctx: Ctx) -> None:
        """The theme this staff member last chose (core.preferences), and from now on each
        one they choose (the palette's "Change theme") remembered for their next session."""
        from core import preferences

        try:
            chosen = await asyncio.to_thread(preferences.get, ctx.user.login)
        except Exception as e:  # noqa: BLE001 - a comfort, never a reason not to open
            self.log.warning(f"theme not read: {e!r}")
            chosen = preferences.Preferences()
        self._saved_theme = chosen.theme or self.theme
        if chosen.theme in self.available_themes:
            self.theme = chosen.theme
        if not self._theme_watched:
            self._theme_watched = True
            self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme) -> None:
        if self.session is not None and theme.name != self._saved_theme:
            self._saved_theme = theme.name
            self._save_theme(theme.name)

    @work(exclusive=True, exit_on_error=False, group="theme")
    async def _save_theme(self, name: str) -> None:
        from core import preferences

        await asyncio.to_thread(preferences.set_theme, self.ctx, name)

    # --- the staff's language (SPEC §12) ---------------------------------------------

    def switch_language(self, language: str) -> None:
        """Speak `language` now: every screen of the stack redrawn in it, and remembered
        for this login (core.preferences) so that the next session opens in it."""
        if language == i18n.current():
            return
        i18n.use(language)
        self._switched_to = language
        self._relabel()
        if self.session is not None:
            self._save_language(language)
        self.notify(_("Language: {name}").format(name=LANGUAGE_NAMES.get(language, language)), timeout=3)

    @work(exclusive=True, exit_on_error=False, group="language")
    async def _save_language(self, language: str) -> None:
        from core import preferences

        await asyncio.to_thread(preferences.set_language, self.ctx, language)

    def language_commands(self) -> list[tuple[str, str, Callable[[], object], str]]:
        """The palette's switch: (name, help, callback, more words it is found by), found
        by "lang", "langue", "fran", "English", "anglais" in either language."""
        found_by = {"fr": "language langue french francais français", "en": "language langue english anglais"}
        out: list[tuple[str, str, Callable[[], object], str]] = []
        for code, name in LANGUAGE_NAMES.items():
            help_text = _("The language in use") if code == i18n.current() else _("Switch to it and remember it")
            out.append(
                (
                    _("Language: {name}").format(name=name),
                    help_text,
                    partial(self.switch_language, code),
                    found_by[code],
                )
            )
        return out
