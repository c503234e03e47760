"""The `clinicast` command (SPEC §7): one module per group of subcommands, all
registered on `base.cli`. With no subcommand it opens the TUI (imported only then: the
core and the daemon never load Textual)."""

from __future__ import annotations

from cli import campaigns, patients, recipients, setup, trust  # noqa: F401 - each registers its commands
from cli.base import cli


def main(argv=None) -> None:
    import sys

    from cli import ssh
    from cli.base import EXIT_BAD, die

    try:  # under sshd's ForceCommand, the client's words (cli/ssh.py)
        args = ssh.forced_argv(sys.argv[1:] if argv is None else argv, list(cli.commands))
    except ssh.Refused as e:
        die(str(e), EXIT_BAD)
    cli.main(args=args, obj={})


__all__ = ["cli", "main"]
