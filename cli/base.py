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
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NoReturn

import click

from core.errors import ClinicastError
from core.i18n import _

EXIT_REFUSED, EXIT_BAD = 1, 2


def die(message, code: int) -> NoReturn:
    """One `clinicast: ` line each on stderr, then exit `code`. `message` may be an error
    with `lines()` (core.csvio.FileProblems): a million of them are printed as they come."""
    lines = message.lines() if hasattr(message, "lines") else str(message).splitlines()
    for line in lines or [""]:
        click.echo(f"clinicast: {line}", err=True)
    sys.exit(code)


def _json_default(o):
    if isinstance(o, date | datetime):
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
        metavar="FILE",
        default="-",
        help="Write the export to FILE (owner-only, 0600) instead of stdout.",
    )(f)


def write_out(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    from core import exports

    path = exports.write_private(output, text)
    click.echo(_("{path}: written, readable by you only").format(path=path), err=True)


def _config_option(f):
    return click.option(
        "--config",
        "config_path",
        metavar="PATH",
        default=None,
        help="Config file (else $CLINICAST_CONFIG, ./clinicast.toml, "
        "the user's config folder, /etc/clinicast/config.toml).",
    )(f)


def config_path_given(explicit: str | None) -> str | None:
    """--config after the subcommand, else before it."""
    return explicit or click.get_current_context().find_root().obj.get("config_path")


def command(group, name: str, *, db: bool = True, user: bool = True, config: bool = True, subcommands: bool = False):
    """Register a subcommand that receives `ctx` (core.context.Ctx), or `config`, or (with
    config=False) the --config path as given. With `subcommands` it is a group that runs
    `f` when no subcommand follows (`clinicast audit` and `clinicast audit verify`)."""

    def wrap(f):
        @(group.group(name, invoke_without_command=True) if subcommands else group.command(name))
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
                loaded = session.load_config(path)
                from core import preferences
                from core.context import login_name

                preferences.speak_for(loaded, login_name(), database=False)
                if db:
                    session.connect(loaded)
                    preferences.speak_for(loaded, login_name())
                if user:
                    from core.context import for_current_user

                    return f(for_current_user(loaded), **kwargs)
                return f(loaded, **kwargs)
            except ClinicastError as e:
                die(e, e.exit_code)
            except OSError as e:
                die(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": "), EXIT_BAD)
            except Exception as e:
                import peewee as pw  # loaded by then: only a command that used the database gets here

                if not isinstance(e, pw.PeeweeException):
                    raise
                from core import db as dbmod

                err = dbmod.explain(e)  # locked, read-only, full...: in words, with what to do
                die(str(err), err.exit_code)

        return run

    return wrap


class OneLineErrors(click.Group):
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
            die(f"{e.format_message()} (see {where} --help)", EXIT_BAD)
        except click.ClickException as e:
            die(e.format_message(), e.exit_code)
        except click.Abort:
            die("aborted", EXIT_REFUSED)
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
)
@_config_option
@click.version_option(package_name="clinicast", prog_name="clinicast")
@click.pass_context
def cli(ctx: click.Context, config_path):
    """Send campaigns to the clinic's patients. With no command, opens the TUI."""
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
