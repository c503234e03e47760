"""The `clinicast` command (SPEC §7): one module per group of subcommands, all
registered on `base.cli`. With no subcommand it opens the TUI (imported only then: the
core and the daemon never load Textual)."""

from __future__ import annotations

from cli import campaigns, patients, recipients, setup, trust  # noqa: F401 - each registers its commands
from cli.base import cli


def _config_arg(args: list[str]) -> str | None:
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def main(argv=None) -> None:
    # the staff member's language before click parses: its --help and usage errors too (SPEC §12)
    import sys

    from cli import ssh
    from cli.base import EXIT_BAD, die
    from core import i18n, preferences
    from core.context import login_name

    args = list(sys.argv[1:] if argv is None else argv)
    i18n.use(preferences.language_of_file(_config_arg(args), login_name()))
    try:  # under sshd's ForceCommand, the client's words (cli/ssh.py); --config is the forced one's
        args = ssh.forced_argv(args, list(cli.commands))
    except ssh.Refused as e:
        die(str(e), EXIT_BAD)
    cli.main(args=args, obj={})


__all__ = ["cli", "main"]
