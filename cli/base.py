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
from datetime import UTC, date, datetime
from typing import Any, NoReturn

import click

from cli.help import FILE, PATH, Group
from core.errors import ClinicastError
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


def _client_words(ctx: click.Context | None) -> list[str] | None:
    """The words of the command a staff member gave over SSH (cli.main: SSH_ORIGINAL_COMMAND
    under sshd's ForceCommand); None for a command typed at the server."""
    obj = ctx.find_root().obj if ctx is not None else None
    return obj.get("client") if isinstance(obj, dict) else None


def _no_server_file(value, param: click.Parameter | None, ctx: click.Context | None, *, writes: bool) -> None:
    words = _client_words(ctx)
    if words is None or value is None:
        return
    from core import ssh

    opts = [o for o in (param.opts if param is not None else []) if o.startswith("-")]
    ssh.no_server_file(str(value), words, opts=opts, writes=writes)


class FileIn(click.Path):
    """A file a command reads (`--csv FILE`, `--template FILE`, `patients import FILE`);
    `-` is the standard input. In a command given over SSH only `-` (core.ssh.no_server_file),
    refused before click looks at the path: whether a server file exists is not said."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        _no_server_file(value, param, ctx, writes=False)
        return super().convert(value, param, ctx)


class FileOut(click.ParamType):
    """A file a command writes (`--output FILE`); `-` is the standard output. In a command
    given over SSH only `-`: the export goes through the connection (core.ssh.no_server_file)."""

    name = "file"

    def convert(self, value, param, ctx):
        _no_server_file(value, param, ctx, writes=True)
        return value


def output_option(f):
    """`--output FILE`: where an export goes (`-`, the default: stdout). A file is
    written 0600 by clinicast itself, never left to the shell's umask."""
    return click.option(
        "--output",
        "-o",
        "output",
        type=FileOut(),
        metavar=FILE,
        default="-",
        help=N_("Write the export to FILE (owner-only, 0600) instead of stdout."),
    )(f)


def write_out(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    from core import exports

    path = exports.write_private(output, text)  # never over SSH: FileOut refused the path
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
        except ClinicastError as e:  # a value refused as it is parsed (FileIn, FileOut over SSH)
            die(e, e.exit_code)
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
    "FileIn",
    "FileOut",
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
