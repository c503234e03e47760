"""Every key binding of the TUI by id, and the config's `[keys]` checked against them.

Each `Binding` has an id ("template.save"); `[keys]` in the config rebinds it
(`"template.save" = "ctrl+o"`) through Textual's keymap (App.set_keymap). An unknown id,
or a key that two bindings active on the same screen would share, is a problem:
`clinicast config check` reports it, the TUI says so and applies the rest.

Default keys avoid what a multiplexer or an SSH client takes before the TUI sees it:
ctrl+b (tmux), ctrl+a (screen), ctrl+s / ctrl+q (XON/XOFF flow control).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

from textual.binding import Binding, BindingsMap

from core.i18n import N_, _, pgettext

# What Textual's own bindings and commands say (a widget's keys on the keys screen, the
# palette's system commands): marked here so that they are in the catalogue and shown
# through `tr` in the language in use like clinicast's own.
TEXTUAL_WORDS = (
    N_("Bottom"), N_("Copy"), N_("Copy selected text"), N_("Cursor Down"), N_("Cursor Up"), N_("Cursor down"),
    N_("Cursor down select"), N_("Cursor left"), N_("Cursor left select"), N_("Cursor left word select"),
    N_("Cursor line end"), N_("Cursor line end select"), N_("Cursor line start"), N_("Cursor line start select"),
    N_("Cursor page down"), N_("Cursor page up"), N_("Cursor right"), N_("Cursor right select"),
    N_("Cursor right word select"), N_("Cursor to next ancestor"), N_("Cursor to next sibling"),
    N_("Cursor to parent"), N_("Cursor to previous sibling"), N_("Cursor up"), N_("Cursor up select"),
    N_("Cursor word left"), N_("Cursor word right"), N_("Cut"), N_("Cut selected text"),
    N_("Delete all to the left"), N_("Delete all to the right"), N_("Delete character left"),
    N_("Delete character right"), N_("Delete left to start of word"), N_("Delete line"),
    N_("Delete right to start of word"), N_("Delete to line end"), N_("Delete to line start"), N_("Down"),
    N_("End"), N_("Exit the command palette"), N_("Expand or collapse all"), N_("First"), N_("Focus Next"),
    N_("Focus Previous"), N_("Go to bottom"), N_("Go to end"), N_("Go to start"), N_("Go to top"), N_("Home"),
    N_("Last"), N_("Move cursor left"), N_("Move cursor left a word"), N_("Move cursor left a word and select"),
    N_("Move cursor left and select"), N_("Move cursor right a word"), N_("Move cursor right a word and select"),
    N_("Move cursor right and select"), N_("Move cursor right or accept the completion suggestion"),
    N_("Next command"), N_("Next option"), N_("Next page"), N_("Next tab"), N_("Page Down"), N_("Page Left"),
    N_("Page Right"), N_("Page Up"), N_("Page down"), N_("Page up"), N_("Paste"),
    N_("Paste text from the clipboard"), N_("Press button"), N_("Previous command"), N_("Previous option"),
    N_("Previous page"), N_("Previous tab"), N_("Quit"), N_("Quit the app and return to the command prompt."),
    N_("Redo"), N_("Scroll Down"), N_("Scroll End"), N_("Scroll Home"), N_("Scroll Left"), N_("Scroll Right"),
    N_("Scroll Up"), N_("Select"), N_("Select all"), N_("Select line"), N_("Select line end"),
    N_("Select line start"), N_("Show menu"), N_("Submit"), N_("Toggle"), N_("Toggle option"), N_("Top"),
    N_("Undo"), N_("Up"), N_("palette"), N_("Open the command palette"), N_("Dismiss menu"), N_("Open link"),
    # the palette's system commands (App.get_system_commands)
    N_("Theme"), N_("Change the current theme"), N_("Quit the application as soon as possible"),
    N_("Minimize"), N_("Minimize the widget and restore to normal size"), N_("Maximize"),
    N_("Maximize the focused widget"), N_("Screenshot"), N_("Save an SVG 'screenshot' of the current screen"),
)  # fmt: skip


def tr(text: str) -> str:
    """A binding's description or tooltip (an English msgid) in the language in use."""
    return _(text) if text else text


# The names Textual shows for keys (App.get_key_display), as the keyboard in the staff
# member's language labels them: « échap », « début », « pg suiv » on a French keyboard.
KEY_NAMES: dict[str, Callable[[], str]] = {
    "esc": lambda: pgettext("key", "esc"),
    "home": lambda: pgettext("key", "home"),
    "end": lambda: pgettext("key", "end"),
    "pgup": lambda: pgettext("key", "pgup"),
    "pgdn": lambda: pgettext("key", "pgdn"),
    "tab": lambda: pgettext("key", "tab"),
    "shift": lambda: pgettext("key", "shift"),
    "space": lambda: pgettext("key", "space"),
    "del": lambda: pgettext("key", "del"),
    "insert": lambda: pgettext("key", "insert"),
}
_KEY_NAME = re.compile(r"\b(" + "|".join(KEY_NAMES) + r")\b")


def key_words(shown: str) -> str:
    """A key as shown ("n/esc", "shift+tab", "^a") with its names in the language in use."""
    return _KEY_NAME.sub(lambda m: KEY_NAMES[m.group(1)](), shown)


@cache
def scopes() -> dict[str, list[type]]:
    """The classes whose bindings are active together, by screen (the app's on every one)."""
    from tui.app import ClinicastApp
    from tui.screens.add_patients import AddPatientsModal
    from tui.screens.audit import AuditScreen
    from tui.screens.campaign_detail import CampaignDetailScreen
    from tui.screens.campaign_list import CampaignListScreen
    from tui.screens.keys import KeysScreen
    from tui.screens.modals import ConfirmModal
    from tui.screens.opt_out import OptOutModal
    from tui.screens.pickers import PatientPicker, ValuePicker, VariablePicker
    from tui.screens.problem import ProblemScreen
    from tui.screens.recipient_detail import RecipientDetailModal
    from tui.screens.recipients import RecipientsScreen
    from tui.screens.sending import TestSendModal
    from tui.screens.template_editor import TemplateEditorScreen
    from tui.widgets.condition_row import ValueInput
    from tui.widgets.patient_search import PatientSearch

    # each screen by its name in English (a msgid: said in the reader's language)
    screens: dict[str, list[type]] = {
        N_("campaign list"): [CampaignListScreen],
        N_("campaign form"): [CampaignDetailScreen],
        N_("recipients"): [RecipientsScreen],
        N_("recipient detail"): [RecipientDetailModal],
        N_("template editor"): [TemplateEditorScreen],
        N_("add patients"): [AddPatientsModal, PatientSearch, ValueInput],
        N_("patient picker"): [PatientPicker, PatientSearch],
        N_("variable picker"): [VariablePicker],
        N_("value picker"): [ValuePicker],
        N_("confirmation"): [ConfirmModal],
        N_("opt-out"): [OptOutModal],
        N_("test send"): [TestSendModal],
        N_("audit"): [AuditScreen],
        N_("problem"): [ProblemScreen],
        N_("keys"): [KeysScreen],
    }
    return {name: [ClinicastApp, *classes] for name, classes in screens.items()}


def _bindings(cls: type) -> list[Binding]:
    return [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]


def binding_ids() -> set[str]:
    return {b.id for classes in scopes().values() for cls in classes for b in _bindings(cls) if b.id}


def _keys(keys: str) -> list[str]:
    """Key names as Textual matches them ("?" -> "question_mark")."""
    return list(BindingsMap([Binding(keys, "noop")]).key_to_bindings)


def problems(keymap: Mapping[str, str], where: str = "") -> list[str]:
    """What is wrong with `[keys]`: ids no binding has, keys two bindings of one screen
    would share once rebound. One line each, naming the key of the config."""
    known = binding_ids()
    out = []
    for binding_id in keymap:
        if binding_id not in known:
            near = sorted(k for k in known if k.split(".")[0] == binding_id.split(".")[0])
            hint = _("; this screen's are {ids}").format(ids=", ".join(near)) if near else ""
            out.append(
                _("{where}keys.{id}: no binding has this id{hint} (`?` in the TUI lists each screen's keys)").format(
                    where=where, id=binding_id, hint=hint
                )
            )
    seen: set[tuple[str, str, str]] = set()
    for screen, classes in scopes().items():
        by_key: dict[str, str] = {}
        for b in (b for cls in classes for b in _bindings(cls)):
            keys = keymap.get(b.id, b.key) if b.id else b.key
            for key in _keys(keys):
                other = by_key.get(key)
                if other is not None and other != b.id and (b.id in keymap or other in keymap):
                    first, second = sorted((other, b.id or b.action))
                    pair = (first, second)
                    if (key, first, second) not in seen:
                        seen.add((key, first, second))
                        out.append(
                            _("{where}keys: {a} and {b} would both be {key} on the {screen} screen").format(
                                where=where, a=pair[0], b=pair[1], key=key, screen=_(screen)
                            )
                        )
                by_key.setdefault(key, b.id or b.action)
    return out


def usable(keymap: Mapping[str, str]) -> dict[str, str]:
    """The entries of `[keys]` that are neither unknown nor part of a clash."""
    bad = problems(keymap)
    return {k: v for k, v in keymap.items() if not any(f"keys.{k}:" in p or f" {k} " in f"{p} " for p in bad)}


def rows(bindings: Iterable[tuple[Binding, bool, str]], key_display) -> list[tuple[str, str, str]]:
    """(keys, what, id) for the keys screen: every binding, hidden ones too, once per action."""
    out: dict[str, tuple[str, str, str]] = {}
    for binding, _enabled, tooltip in bindings:
        if binding.system or not binding.description:
            continue
        keys = key_display(binding)
        tip = tooltip or binding.tooltip
        what = binding.description + (f" — {tip}" if tip else "")
        row = out.get(binding.action)
        if row is None:
            out[binding.action] = (keys, what, binding.id or "")
        elif keys not in row[0].split(" / "):
            out[binding.action] = (f"{row[0]} / {keys}", row[1], row[2])
    return list(out.values())
