"""The `clinicast` command (SPEC §7): one module per group of subcommands, all
registered on `base.cli`. With no subcommand it opens the TUI (imported only then: the
core and the daemon never load Textual)."""

from __future__ import annotations

from cli import campaigns, patients, recipients, setup, trust  # noqa: F401 - each registers its commands
from cli.base import cli


def main(argv=None) -> None:
    cli.main(args=argv, obj={})


__all__ = ["cli", "main"]
