"""`clinicast recipients …`: add, remove, list."""

from __future__ import annotations

import click

from cli.base import cli, command, dumps, emit, output_option, write_out
from core.enums import Permission
from core.errors import BadInput
from core.i18n import _, ngettext
from core.reasons import describe


@cli.group("recipients")
def recipients_group():
    """Add, remove and list a campaign's recipients."""


@command(recipients_group, "add")
@click.argument("campaign_id")
@click.option("--patient", "emr_id", metavar="EMR_ID", help="One patient by EMR id.")
@click.option("--where", "where", multiple=True, metavar='"FIELD OP VALUE"', help="A condition; repeat: all must hold.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="A CSV list of EMR ids.")
@click.option("--json", "as_json", is_flag=True)
def recipients_add(ctx, campaign_id, emr_id, where, csv_path, as_json):
    """Assign patients to a campaign."""
    from core import conditions, recipients

    given = [x for x in (emr_id, where, csv_path) if x]
    if len(given) != 1:
        raise BadInput('give exactly one of --patient EMR_ID, --where "FIELD OP VALUE"..., --csv FILE')
    if emr_id:
        result = recipients.assign_patient(ctx, campaign_id, emr_id)
    elif where:
        result = recipients.assign_conditions(ctx, campaign_id, [conditions.parse(w) for w in where])
    else:
        result = recipients.assign_csv(ctx, campaign_id, csv_path)
    if as_json:
        return emit(result.to_json())
    click.echo(
        f"added {result.added}, already assigned {result.already_assigned}, skipped {result.skipped}"
        + (f", not found {len(result.not_found)}" if result.not_found else "")
    )
    for code, n in result.skipped_reasons.items():
        click.echo(f"  skipped {n}: {describe(code)}")
    if result.not_found:
        click.echo("  not found: " + ", ".join(result.not_found[:20]) + (" …" if len(result.not_found) > 20 else ""))
    if result.duplicates:  # counted once; said, so a wrong export is noticed (issue #8)
        n = len(result.duplicates)
        click.echo(
            "  " + ngettext("{n} duplicate line counted once:", "{n} duplicate lines counted once:", n).format(n=n)
        )
        for line in result.duplicates[:20]:
            click.echo(f"    {line}")
        if n > 20:
            click.echo(f"    … and {n - 20} more")


@command(recipients_group, "remove")
@click.argument("campaign_id")
@click.argument("emr_id")
@click.option("--json", "as_json", is_flag=True)
def recipients_remove(ctx, campaign_id, emr_id, as_json):
    """Take one patient off a campaign."""
    from core import campaigns, recipients

    what = recipients.remove(ctx, campaign_id, emr_id)
    if as_json:
        return emit(
            {"campaign_id": campaigns.get(campaign_id).id, "emr_id": emr_id, "status": "removed", "outcome": what}
        )
    click.echo(f"removed {emr_id}: {what}")


@command(recipients_group, "list")
@click.argument("campaign_id")
@click.option("--status", default=None, help="Only recipients with this status.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True, help="The ledger as CSV (for an incident register).")
@output_option
def recipients_list(ctx, campaign_id, status, as_json, as_csv, output):
    """A campaign's recipients with status and dates."""
    from core import campaigns, exports, recipients

    ctx.require(Permission.CAMPAIGNS)
    campaigns.get(campaign_id)
    if as_json and as_csv:
        raise BadInput("give --json or --csv, not both")
    if as_csv:
        return write_out(output, exports.recipients_csv(ctx, campaign_id, status))
    rows = recipients.page(ctx, campaign_id, status=status, limit=None)
    if as_json:
        return write_out(output, dumps([r.to_json() for r in rows]) + "\n")
    if output != "-":
        raise BadInput(_("--output goes with --csv or --json"))
    for r in rows:
        sent = f"{r.sent_at:%Y-%m-%d %H:%M}" if r.sent_at else "-"
        reason = f"  ({r.reason(when=lambda t: f'{t:%Y-%m-%d %H:%M}')})" if r.reason_code else ""
        click.echo(
            f"{r.emr_id:>10}  {r.name[:30]:30} {r.shown_status:16} added {r.added_at:%Y-%m-%d}  sent {sent}{reason}"
        )
