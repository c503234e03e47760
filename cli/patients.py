"""`clinicast patients …`: the patient directory."""

from __future__ import annotations

import click

from cli.base import cli, command, emit
from core.infile import label_of


@cli.group("patients")
def patients_group():
    """The patient directory."""


@command(patients_group, "import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def patients_import(ctx, file, as_json):
    """Upsert the patient directory from an EMR export (CSV)."""
    from core.patients.upsert import import_csv

    result = import_csv(ctx, file)
    if as_json:
        return emit(result.to_json())
    click.echo(f"{label_of(file)}: {result.total} patients: {result.inserted} new, {result.updated} updated")
    if result.kept_opted_out:
        # the file said "contact them"; the patient's own opt-out wins (SPEC §10)
        click.echo(f"  kept opted out: {result.kept_opted_out} (the file said yes; the patient opted out)")
