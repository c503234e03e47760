"""One line above the footer: who is logged in, whether deliveries are being sent, and
the keys that work everywhere (the footer keeps its room for the screen's own keys)."""

from __future__ import annotations

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from core.i18n import _
from tui.app import ClinicastApp


class StatusLine(Horizontal):
    app = getters.app(ClinicastApp)

    DEFAULT_CSS = """
    StatusLine { height: auto; max-height: 3; background: $panel; color: $text-muted; padding: 0 1; }
    StatusLine > #status-who { width: 1fr; height: auto; text-wrap: wrap; }
    StatusLine > #status-keys { width: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="status-who")
        yield Static(self._keys(), id="status-keys")

    @staticmethod
    def _keys() -> Text:
        keys = Text()
        for key, what in (("?", _("keys")), ("^p", _("commands")), ("f10", _("quit"))):
            keys.append(f" {key} ", style="bold #ffa62b")
            keys.append(what)
        return keys

    def on_mount(self) -> None:
        self.watch(self.app, "scheduler_state", self._update)
        self.watch(self.app, "scheduler_brief", self._update)
        self.watch(self.app, "config_state", self._update)
        self.watch(self.app, "scheduler_ok", self._update)
        self.watch(self.app, "scheduler_own", self._update)

    def relabel(self) -> None:
        """After a language switch."""
        self.query_one("#status-keys", Static).update(self._keys())
        self._update()

    def on_resize(self) -> None:
        self._update()

    def _update(self, _value: object = None) -> None:
        """Never cut (issue #18): the words wrap to a second line rather than end in "…";
        at 80 columns the login alone (the header shows the name), and who sends in
        short when the full words would take a second line ("sending: this session")."""
        ctx = self.app.session
        text = Text()
        if ctx is not None:
            text.append("● ", style="green")
            text.append(ctx.user.login, style="bold")
            if ctx.user.name != ctx.user.login and self.app.size.width >= 100:
                text.append(f" ({ctx.user.name})")
        if self.app.config_state:  # a broken config kept out, or a change that waits for a restart
            text.append("  ⚠ ", style="bold red")
            text.append(self.app.config_state, style="red")
        # core.status's words ("deliveries: sent by…", "nothing is sending: …") stand alone
        text.append("  " + (_("scheduler:") + " " if self.app.scheduler_own else ""))
        state, brief = self.app.scheduler_state, self.app.scheduler_brief
        room = self.app.size.width - 2 - self._keys().cell_len  # the padding, the keys
        if brief and text.cell_len + Text(state).cell_len > room:
            state = brief
        text.append(state, style="green" if self.app.scheduler_ok else "yellow")
        self.query_one("#status-who", Static).update(text)
