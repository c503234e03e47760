"""One line above the footer: who is logged in, whether deliveries are being sent, and
the keys that work everywhere (the footer keeps its room for the screen's own keys)."""

from __future__ import annotations

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from tui.app import ClinicastApp


class StatusLine(Horizontal):
    app = getters.app(ClinicastApp)

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    StatusLine > #status-who { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    StatusLine > #status-keys { width: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="status-who")
        keys = Text()
        for key, what in (("^p", "commands"), ("^q", "quit")):
            keys.append(f" {key} ", style="bold #ffa62b")
            keys.append(what)
        yield Static(keys, id="status-keys")

    def on_mount(self) -> None:
        self.watch(self.app, "scheduler_state", self._update)
        self.watch(self.app, "config_state", self._update)

    def _update(self, _value: object = None) -> None:
        ctx = self.app.session
        text = Text(no_wrap=True, overflow="ellipsis")
        if ctx is not None:
            text.append("● ", style="green")
            text.append(ctx.user.login, style="bold")
            if ctx.user.name != ctx.user.login:
                text.append(f" ({ctx.user.name})")
        if self.app.config_state:  # a broken config kept out, or a change that waits for a restart
            text.append("  ⚠ ", style="bold red")
            text.append(self.app.config_state, style="red")
        state = self.app.scheduler_state
        # core.status words ("deliveries: sent by…", "nothing is sending: …") stand alone
        text.append("  " if state.startswith(("deliveries", "nothing")) else "  scheduler: ")
        style = "green" if state.startswith("deliveries") or "running" in state else "yellow"
        text.append(state, style=style)
        self.query_one("#status-who", Static).update(text)
