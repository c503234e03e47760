"""The footer of every screen: its keys, each whole, and the help key at the right.

Textual's Footer lays every shown key in one row and the terminal cuts what runs past
the edge: at 80 columns in French the recipients' footer ended « / Chercher E », the
template editor's « ^g Gras ^t Itali », and the keys after them never showed. Here the
keys come most needed first — the screen's `FOOTER_ORDER` (binding ids; see `ranked`),
then the rest in the order of its bindings — and a key whose words do not fit is left out
whole, with the keys after it. The help key
(`?`, or f1 while a text field takes `?` as a letter) then stays at the right and says
how many were left out (« ? +7 touches »): its screen lists them all
(tui/screens/keys.py). Where every key fits it is there too, unless the status line
above already says `? keys` (tui/widgets/status_line.py) and `?` works: a dialog has no
status line, and in a text field the footer says f1 (« f1 Touches »).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.keys import key_to_character
from textual.widget import Widget
from textual.widgets import Footer, Input, TextArea
from textual.widgets._footer import FooterKey

from core.i18n import _, ngettext
from tui.keys import tr
from tui.widgets.status_line import StatusLine

T = TypeVar("T")

HELP_ID = "app.keys"  # the binding of the keys screen (tui/app.py), rebindable from [keys]


class HelpKey(Widget):
    """`? Keys` at the right of the footer (not a FooterKey: those are the screen's own)."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"help-key--key", "help-key--description"}
    DEFAULT_CSS = """
    HelpKey {
        width: auto; height: 1; text-wrap: nowrap;
        padding-left: 1; border-left: vkey $foreground 20%;
        background: $footer-item-background;
        .help-key--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        .help-key--description {
            color: $footer-description-foreground; background: $footer-description-background;
        }
        &:hover { pointer: pointer; background: $block-hover-background; }
    }
    """

    def __init__(self, key_display: str, description: str) -> None:
        super().__init__(id="footer-help")
        self.key_display = key_display
        self.description = description

    def render(self) -> Text:
        text = Text.assemble(
            (self.key_display, self.get_component_rich_style("help-key--key")),
            (" " + self.description, self.get_component_rich_style("help-key--description")),
        )
        text.stylize_before(self.rich_style)
        return text

    async def on_click(self, event: events.Click) -> None:
        event.stop()
        await self.run_action("app.keys")


class Gap(Widget):
    """Blank cells between the screen's keys and the ones kept at the right."""

    def __init__(self, width: int) -> None:
        super().__init__(id="footer-gap")
        self.styles.width = max(0, width)
        self.styles.height = 1

    def render(self) -> str:
        return ""


def ranked(screen: object, bindings: list[T], binding_of: Callable[[T], Binding]) -> list[T]:
    """`bindings` most needed first: the ids the screen names in `FOOTER_ORDER`, in that
    order, then the others as they came (their bindings' order, the focused widget's
    first). One order a screen, whatever the language: the width of the words decides
    only how many of them fit (at 80 columns the recipients' search and opt-out were
    behind `?` in both languages, after keys staff use once per campaign)."""
    order = {binding_id: n for n, binding_id in enumerate(getattr(screen, "FOOTER_ORDER", ()))}
    return sorted(bindings, key=lambda b: order.get(binding_of(b).id or "", len(order)))


def width_of(key_display: str, description: str) -> int:
    """The cells a compact FooterKey takes, its right margin included."""
    return cell_len(key_display) + (1 + cell_len(description) if description else 0) + 1


def help_width(key_display: str, description: str) -> int:
    """The help key's cells: its border, its padding, the key, a space, the words."""
    return 2 + cell_len(key_display) + 1 + cell_len(description)


class KeysFooter(Footer):
    """The screen's keys, each whole, and the help key at the right."""

    DEFAULT_CSS = """
    KeysFooter > FooterKey.-palette { margin-right: 0; padding-left: 1; border-left: vkey $foreground 20%; }
    """

    def __init__(self, *, show_command_palette: bool = True) -> None:
        super().__init__(compact=True, show_command_palette=show_command_palette)
        self.left_out: list[Binding] = []  # the shown keys with no room (the help screen lists them)
        self._composed_width = 0

    def _room(self) -> int:
        return self.size.width or self.screen.size.width or self.app.size.width

    def _typing(self) -> bool:
        """The focused widget takes printable keys as text (`?` is a letter there)."""
        return isinstance(self.screen.focused, Input | TextArea)

    def _help(self) -> tuple[str, str] | None:
        """The help key as shown ("?" or "f1"), and its words; None where it does not open
        the keys screen (on the keys screen itself `?` closes it)."""
        found = [(key, a.binding) for key, a in self.screen.active_bindings.items() if a.binding.id == HELP_ID]
        if not found:
            return None
        if self._typing():  # a key that types a letter would not reach the binding
            found = [(key, b) for key, b in found if key_to_character(key) is None] or found
        key, binding = found[0]
        return self.app.get_key_display(Binding(key, binding.action, key_display=None)), tr(binding.description)

    def _palette(self) -> tuple[Binding, bool, str] | None:
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE):
            return None
        active = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return None if active is None else (active.binding, active.enabled, active.tooltip)

    def _shown(self) -> Iterator[tuple[Binding, bool, str]]:
        """The screen's shown keys in order, one per action (its first key)."""
        seen: set[str] = set()
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                yield binding, enabled, tooltip

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        room = self._room()
        self._composed_width = room
        shown = ranked(self.screen, list(self._shown()), lambda s: s[0])
        palette = self._palette()
        if palette is not None:
            shown = [s for s in shown if s[0].action != palette[0].action]
        keys = [(b, on, tip, self.app.get_key_display(b)) for b, on, tip in shown]
        widths = [width_of(display, b.description) for b, _on, _tip, display in keys]
        right = width_of(self.app.get_key_display(palette[0]), palette[0].description) + 1 if palette else 0
        fit = self._fitting(widths, room - right)
        help_key = self._help()
        if help_key is not None and len(fit) == len(keys) and not self._typing() and self.screen.query(StatusLine):
            help_key = None  # every key shown, and the status line above says `? keys`
        elif help_key is not None:
            key, label = help_key
            fit = self._fitting(widths, room - right - help_width(key, label))
            if len(fit) < len(keys):  # the count's words are longer: what fits beside them fits
                fit = self._fitting(widths, room - right - help_width(key, self._more(len(keys))))
                label = self._more(len(keys) - len(fit))
            help_key = (key, label)
        self.left_out = [b for i, (b, _on, _tip, _d) in enumerate(keys) if i not in fit]
        for i in fit:
            binding, enabled, tooltip, display = keys[i]
            yield FooterKey(
                binding.key, display, binding.description, binding.action, disabled=not enabled, tooltip=tooltip
            ).data_bind(compact=Footer.compact)
        if help_key is None and palette is None:
            return
        used = sum(widths[i] for i in fit) + right + (help_width(*help_key) if help_key else 0)
        yield Gap(room - used)  # the rest of the room: what follows stays at the right
        if help_key is not None:
            yield HelpKey(*help_key)
        if palette is not None:
            binding, enabled, tooltip = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip or binding.description,
                classes="-palette",
            ).data_bind(compact=Footer.compact)

    @staticmethod
    def _fitting(widths: list[int], room: int) -> list[int]:
        """Which keys fit whole in `room` cells: the first ones, up to the first that does
        not (a shorter one after it stays out too: every key shown is used more than any
        left out)."""
        used = 0
        for n, w in enumerate(widths):
            if used + w > room:
                return list(range(n))
            used += w
        return list(range(len(widths)))

    @staticmethod
    def _more(n: int) -> str:
        return ngettext("+{n} key", "+{n} keys", n).format(n=n) if n else _("Keys")

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._composed_width:
            self.call_after_refresh(self.recompose)
