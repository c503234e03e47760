"""The `clinicast` command (SPEC §7): one module per group of subcommands, all
registered on `base.cli`, each imported when one of its commands runs
(`base.COMMAND_MODULES`). With no subcommand it opens the TUI (imported only then: the
core and the daemon never load Textual)."""

from __future__ import annotations

from cli.base import cli


def main(argv=None) -> None:
    cli.main(args=argv, obj={})


__all__ = ["cli", "main"]
