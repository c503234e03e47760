"""--help and usage in the language in use: click takes a command's help and metavars when
its module is imported, before the language is known; the msgids are kept and put into the
language when they are shown (`translate_help`), for every `Command` and `Group` of
clinicast, with the language's colon after --help's headings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from core.i18n import N_, _

# click's words that Babel does not find in click (`_(extra["required"])`), or that click
# never translates (the usage line's metavars): named here, shown through translate_help
N_("required")
OPTIONS_METAVAR = N_("[OPTIONS]")
SUBCOMMAND_METAVAR = N_("COMMAND [ARGS]...")
# the metavars of values (a person reads them in --help and in "Missing argument 'ID'")
CAMPAIGN_ID = N_("CAMPAIGN_ID")
EMR_ID = N_("EMR_ID")
DAY = N_("YYYY-MM-DD")
FILE = N_("FILE")
NAME = N_("NAME")
PATH = N_("PATH")
TEXT = N_("TEXT")
TRANSLATED = ("help", "short_help", "epilog", "metavar", "options_metavar", "subcommand_metavar")


class Valued(str):
    """A help msgid whose `{names}` are put in when it is shown (`translate_help`):
    `values()` gives them then — a value that lives in core (INVITATION_VALID_DAYS) is read
    when the help is shown, and is not imported when the command line starts."""

    values: Callable[[], dict[str, object]]

    def __new__(cls, msgid: str, values: Callable[[], dict[str, object]]) -> Valued:
        obj = super().__new__(cls, msgid)
        obj.values = values
        return obj


def translate_help(*things: Any) -> None:
    """Put each command's and option's help and metavars into the language in use. click
    takes them at decoration time, when the modules are imported and before the language is
    known: they are written `help=N_("…")` (Babel extracts the msgid, never a docstring) and
    the msgid is kept here, so a later language gets its own words."""
    for thing in things:
        msgids = thing.__dict__.setdefault("_help_msgids", {})
        for attr in TRANSLATED:
            if attr not in msgids:
                msgids[attr] = getattr(thing, attr, None)
            msgid = msgids[attr]
            if isinstance(msgid, str) and msgid:
                setattr(thing, attr, _(msgid).format(**msgid.values()) if isinstance(msgid, Valued) else _(msgid))


class HelpFormatter(click.HelpFormatter):
    """--help's headings ("Options:", "Commands:") with the language's colon (« Options : »)."""

    def write_heading(self, heading: str) -> None:
        line = _("{heading}:").format(heading=heading)
        self.write(f"{'':>{self.current_indent}}{line}\n")


class Context(click.Context):
    formatter_class = HelpFormatter


class _Translated:
    """What a command shows, in the language in use: its help, its options' help and
    metavars (when parsing, for click's errors, and when formatting --help), and click's own
    --help option, which click words once and keeps."""

    params: list[click.Parameter]
    context_class: type[click.Context] = Context

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        translate_help(self, *self.params)
        return super().parse_args(ctx, args)  # type: ignore[misc]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        translate_help(self, *self.params)
        super().format_help(ctx, formatter)  # type: ignore[misc]

    def get_short_help_str(self, limit: int = 45) -> str:
        translate_help(self)
        return super().get_short_help_str(limit)  # type: ignore[misc]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = _("Show this message and exit.")
        return option


class Command(_Translated, click.Command):
    """A command whose words are shown in the language in use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)


class Group(_Translated, click.Group):
    """A group of commands, its words and its commands' in the language in use."""

    command_class = Command

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)


Group.group_class = Group
