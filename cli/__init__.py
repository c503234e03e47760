"""The `clinicast` command (SPEC §7): one module per group of subcommands, all
registered on `base.cli`, each imported when one of its commands runs
(`base.COMMAND_MODULES`). With no subcommand it opens the TUI (imported only then: the
core and the daemon never load Textual). The top floor: it imports tui and core, and
neither imports it.

base.py        --config on every command, errors to exit codes and one line on stderr, JSON
help.py        --help and usage in the language in use (click words them at import)
campaigns.py   `clinicast campaigns …`
patients.py    `clinicast patients import`
recipients.py  `clinicast recipients …`
trust.py       `clinicast patients opt-out | opt-in | show`, `clinicast audit`
setup.py       `clinicast init`, `config check`, `status`, `daemon`, `demo`
ssh.py         clinicast as sshd's ForceCommand: staff's files travel through SSH
words.py       the stored codes a person reads, in their language (core.words' table)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.base import cli
    from core.preferences import Decided


def __getattr__(name: str):
    # `cli.cli`, the click group, imported when asked: `clinicast --version` never loads
    # click (issue #21: a third of a whole --version process was importing it)
    if name == "cli":
        from cli.base import cli

        return cli
    raise AttributeError(f"module 'cli' has no attribute {name!r}")


def _config_arg(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def _language(args: list[str]) -> Decided:
    """The language of the staff member running this command (core.preferences.decide, as
    the TUI decides it: their choice from the palette, else the config's; with no config
    that says one — none found, unreadable, a folder, empty — the host's). With it, what
    was read to decide it (`Decided`): the command uses that config and that saved choice
    rather than reading them again."""
    from core import preferences
    from core.context import login_name

    return preferences.decide(_config_arg(args), login_name())


def main(argv=None) -> None:
    # the staff member's language before click parses: its --help and usage errors too (SPEC §12)
    import os
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # the version has no words to translate: it loads nothing (issue #21)
        import core

        print(f"clinicast, version {core.__version__}")
        raise SystemExit(0)  # as click's version option ends
    from cli import ssh
    from cli.base import COMMAND_MODULES, EXIT_BAD, cli, die
    from core import i18n

    decided = _language(args)
    i18n.use(decided.language)
    try:  # under sshd's ForceCommand, the client's words (cli/ssh.py); --config is the forced one's
        forced = ssh.forced_argv(args, list(COMMAND_MODULES))
    except ssh.Refused as e:
        die(str(e), EXIT_BAD)
    # the client's words, when this process runs them: the files they name come through the
    # connection, never from a path on the server (cli.base.FileIn / FileOut, core.ssh)
    client = forced[len(args) :] if forced != args else None
    args = forced
    if ssh.ENV in os.environ:  # `-` read over SSH from a keyboard: said, not a silent wait
        from core import infile

        infile.on_stdin_wait = ssh.waiting_for_stdin
    try:
        cli.main(args=args, obj={"decided": decided, "client": client})
    except SystemExit as e:
        if argv is None:  # the program itself, not a caller's main(argv)
            _end_now(e.code)
        raise


def _end_now(code: object) -> None:
    """End the process at once once the command is done: what it wrote flushed, its
    database closed (SQLite checkpoints its WAL then; PostgreSQL is told goodbye), then
    `os._exit`, without the interpreter's teardown — freeing every module one by one,
    ~0.03 s of a `campaigns list` on SQLite and ~0.08 s on PostgreSQL (psycopg, asyncio,
    ssl), a fifth of a whole command (issue #21). Returns, and the usual exit follows,
    whenever that could lose anything: a thread that is not a daemon still running
    (Python would wait for it), output that cannot be flushed (a reader gone: cli.base
    says so), a database that does not close cleanly, an exit that is not a number."""
    import os
    import sys
    import threading

    if code is None:
        code = 0
    if not isinstance(code, int):
        return
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    models = sys.modules.get("core.models")  # only a command that opened it has it loaded
    try:
        if models is not None and models.database.obj is not None:
            models.database.close()
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - the usual exit, which says or handles it
        return
    os._exit(code)


__all__ = ["cli", "main"]
