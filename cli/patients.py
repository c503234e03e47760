"""`clinicast patients …`: the patient directory."""

from __future__ import annotations

import click

from cli.base import FileIn, cli, command, emit
from cli.help import FILE
from core.formats import number
from core.i18n import N_, _, ngettext
from core.infile import label_of


@cli.group("patients", help=N_("The patient directory."))
def patients_group():
    pass


@command(patients_group, "import", help=N_("Upsert the patient directory from an EMR export (CSV)."))
@click.argument("file", type=FileIn(), metavar=FILE)
@click.option(
    "--json", "as_json", is_flag=True, help=N_("Print one JSON document (the spec's English keys and codes).")
)
def patients_import(ctx, file, as_json):
    from core.patients.upsert import import_csv

    result = import_csv(ctx, file)
    if as_json:
        return emit(result.to_json())
    patients_n = ngettext("{n} patient", "{n} patients", result.total).format(n=number(result.total))
    click.echo(
        _("{file}: {patients}: {new}, {updated}").format(
            file=label_of(file),
            patients=patients_n,
            new=ngettext("{n} new", "{n} new", result.inserted).format(n=number(result.inserted)),
            updated=ngettext("{n} updated", "{n} updated", result.updated).format(n=number(result.updated)),
        )
    )
    if result.kept_opted_out:
        # the file said "contact them"; the patient's own opt-out wins (SPEC §10)
        click.echo(
            "  "
            + _("kept opted out: {n} (the file said yes; the patient opted out)").format(
                n=number(result.kept_opted_out)
            )
        )
    if result.ignored_columns:
        # a column clinicast has no field for is left out: said, so a misnamed one is seen
        click.echo(
            "  "
            + _("columns left out (no clinicast field by that name): {columns}").format(
                columns=", ".join(result.ignored_columns)
            )
        )
