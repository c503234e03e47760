"""The plumbing every `clinicast` command shares: --config on every command, one place
that maps errors to exit codes and one line on stderr, JSON output.

Exit status 0 on success, 1 on a refused action (permission, limit, rule), 2 on bad
usage or bad input (SPEC §7). A command registered with `command()` receives the
session's `Ctx` (or the `Config`, or the --config path) and raises core errors; it never
prints a traceback.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, NoReturn

import click

from core.errors import ClinicastError, MissingFile
from core.i18n import N_, _

EXIT_REFUSED, EXIT_BAD = 1, 2


def die(message, code: int) -> NoReturn:
    """One `clinicast: ` line each on stderr, then exit `code`. `message` may be an error
    with `lines()` (core.csvio.FileProblems): a million of them are printed as they come."""
    lines = message.lines() if hasattr(message, "lines") else str(message).splitlines()
    for line in lines or [""]:
        click.echo(f"clinicast: {line}", err=True)
    sys.exit(code)


EXIT_READER_GONE = 141  # 128 + SIGPIPE, as a shell tool that `head` stopped reading ends


def reader_gone() -> NoReturn:
    """stdout's reader stopped reading (`clinicast audit | head`): stop quietly, like
    any shell tool; whatever is still buffered goes nowhere instead of raising again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test runner): nothing to redirect
        pass
    sys.exit(EXIT_READER_GONE)


def _json_default(o):
    """A moment as `recipients list --json` writes it, "2026-12-07T10:53:58Z" (clinicast keeps
    moments in UTC, naive): a moment without its zone is read in the reader's own; a day as
    it is."""
    if isinstance(o, datetime):
        utc = o if o.tzinfo is None else o.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="seconds") + "Z"
    if isinstance(o, date):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def dumps(data) -> str:
    return json.dumps(data, default=_json_default, ensure_ascii=False, indent=2)


def emit(data) -> None:
    click.echo(dumps(data))


def output_option(f):
    """`--output FILE`: where an export goes (`-`, the default: stdout). A file is
    written 0600 by clinicast itself, never left to the shell's umask."""
    return click.option(
        "--output",
        "-o",
        "output",
        metavar=FILE,
        default="-",
        help=N_("Write the export to FILE (owner-only, 0600) instead of stdout."),
    )(f)


def write_out(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    from cli import ssh
    from core import exports

    path = exports.write_private(output, text)
    home = ssh.output_through_connection(output)
    if home:  # a client's command over SSH: the file is on the server, out of their reach
        said = _("{path}: written on the server, readable by you only; to have it on your computer: {command}")
        click.echo(said.format(path=path, command=home), err=True)
        return
    click.echo(_("{path}: written, readable by you only").format(path=path), err=True)


def _config_option(f):
    return click.option(
        "--config",
        "config_path",
        metavar=PATH,
        default=None,
        help=N_(
            "Config file (else $CLINICAST_CONFIG, ./clinicast.toml, "
            "the user's config folder, /etc/clinicast/config.toml)."
        ),
    )(f)


def config_path_given(explicit: str | None) -> str | None:
    """--config after the subcommand, else before it."""
    return explicit or click.get_current_context().find_root().obj.get("config_path")


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


def command(
    group,
    name: str,
    *,
    help: str,
    db: bool = True,
    user: bool = True,
    config: bool = True,
    subcommands: bool = False,
):
    """Register a subcommand that receives `ctx` (core.context.Ctx), or `config`, or (with
    config=False) the --config path as given. With `subcommands` it is a group that runs
    `f` when no subcommand follows (`clinicast audit` and `clinicast audit verify`).
    `help` is an `N_("…")` msgid, shown translated (`translate_help`)."""

    def wrap(f):
        @(group.group(name, help=help, invoke_without_command=True) if subcommands else group.command(name, help=help))
        @_config_option
        @functools.wraps(f)
        def run(config_path, **kwargs):
            from core import session

            here = click.get_current_context()
            if subcommands and here.invoked_subcommand is not None:
                if config_path:  # `audit --config X verify`: the subcommand's too
                    here.find_root().obj["config_path"] = config_path
                return None
            try:
                path = config_path_given(config_path)
                if not config:
                    return f(path, **kwargs)
                from core import preferences
                from core.context import login_name

                login = login_name()
                # what cli.main read to choose the language, when it read it for this
                # --config and login: the config file and the saved choice, read once
                decided = here.find_root().obj.get("decided")
                if not (decided and decided.config and (decided.explicit, decided.login) == (path, login)):
                    decided = None
                loaded = decided.config if decided else session.load_config(path)
                preferences.speak_for(loaded, login, database=False)
                if db:
                    session.connect(loaded)
                    preferences.speak_for(loaded, login, saved=decided.saved if decided else None)
                if user:
                    from core.context import for_current_user

                    return f(for_current_user(loaded), **kwargs)
                return f(loaded, **kwargs)
            except MissingFile as e:
                from cli import ssh

                home = ssh.file_through_connection(e.path)  # over SSH: the file is on their computer
                if home:
                    said = _(
                        "{problem}: over SSH, files are read on the server; "
                        "a file on your computer comes through the connection: {command}"
                    )
                    die(said.format(problem=e, command=home), e.exit_code)
                die(e, e.exit_code)
            except ClinicastError as e:
                die(e, e.exit_code)
            except BrokenPipeError:  # `clinicast audit | head`: the reader left (an OSError: first)
                reader_gone()
            except OSError as e:
                from core import oserrors

                die(f"{getattr(e, 'filename', '') or ''}: {oserrors.words(e)}".lstrip(": "), EXIT_BAD)
            except Exception as e:
                import peewee as pw  # loaded by then: only a command that used the database gets here

                if not isinstance(e, pw.PeeweeException):
                    raise
                from core import db as dbmod

                err = dbmod.explain(e)  # locked, read-only, full...: in words, with what to do
                die(str(err), err.exit_code)

        return run

    return wrap


class OneLineErrors(Group):
    """Usage errors as one line on stderr (`clinicast: campaigns create: …`), exit 2.

    Commands are registered where they are written (`@command(cli, ...)` in the cli/
    module of their group); `modules` only says which module holds each top-level name,
    so a command imports that module, and what it needs, when it runs:
    `clinicast --version` loads neither the database driver nor the core."""

    def __init__(self, *args: Any, modules: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modules = modules or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.modules))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.modules:
            importlib.import_module(self.modules[cmd_name])  # its decorators register it
        return self.commands.get(cmd_name)

    def main(  # click overloads main() on standalone_mode; this one always exits
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        try:
            rv = super().main(
                args=args, prog_name=prog_name or "clinicast", complete_var=complete_var, standalone_mode=False, **extra
            )
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "clinicast"
            from cli import ssh

            over_ssh = ssh.usage_hint(where)
            if over_ssh is not None:
                die(_("{problem} ({hint})").format(problem=e.format_message(), hint=over_ssh), EXIT_BAD)
            die(_("{problem} (see {command} --help)").format(problem=e.format_message(), command=where), EXIT_BAD)
        except click.ClickException as e:
            die(e.format_message(), e.exit_code)
        except click.Abort:
            die(_("aborted"), EXIT_REFUSED)
        try:
            sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
        except BrokenPipeError:
            reader_gone()
        sys.exit(rv if isinstance(rv, int) else 0)


# the module that registers each top-level command (OneLineErrors.get_command imports it)
COMMAND_MODULES = {
    "audit": "cli.trust",
    "campaigns": "cli.campaigns",
    "config": "cli.setup",
    "daemon": "cli.setup",
    "demo": "cli.setup",
    "init": "cli.setup",
    "patients": "cli.trust",  # cli.patients' group, with cli.trust's opt-out commands on it
    "recipients": "cli.recipients",
    "status": "cli.setup",
}


@click.group(
    cls=OneLineErrors,
    modules=COMMAND_MODULES,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_("Send campaigns to the clinic's patients. With no command, opens the TUI."),
)
@_config_option
# click words this help when the decorator runs (at import, in English): the msgid, translated when shown
@click.version_option(package_name="clinicast", prog_name="clinicast", help=N_("Show the version and exit."))
@click.pass_context
def cli(ctx: click.Context, config_path):
    """The top of every command: --config before the subcommand counts for it."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    if ctx.invoked_subcommand is None:
        open_tui(config_path)


def need_terminal() -> None:
    """Exit 2 with one line saying how to use clinicast without a terminal (over SSH: a
    command) unless there is a terminal to draw the TUI on."""
    from cli import ssh

    if not ssh.has_terminal():
        die(ssh.no_terminal_message(), EXIT_BAD)


def open_tui(config_path) -> NoReturn:
    """The TUI (never drawn into a pipe)."""
    need_terminal()
    from tui import app  # imported only when the TUI opens: the other commands never load Textual

    sys.exit(app.run(config_path))


__all__ = [
    "COMMAND_MODULES",
    "EXIT_BAD",
    "EXIT_REFUSED",
    "cli",
    "command",
    "die",
    "dumps",
    "emit",
    "need_terminal",
    "output_option",
    "write_out",
    "open_tui",
]
