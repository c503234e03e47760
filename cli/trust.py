"""`clinicast patients opt-out | opt-in | show` and `clinicast audit` (SPEC §7, §10)."""

from __future__ import annotations

import sys

import click

from cli.base import EXIT_REFUSED, cli, command, dumps, emit, output_option, write_out
from cli.patients import patients_group
from core.enums import OptOutChannel
from core.errors import BadInput
from core.i18n import _

_CHANNEL = click.option(
    "--channel", required=True, metavar="|".join(OptOutChannel), help="What the patient opts out of (all: every one)."
)
_NOTE = click.option("--note", required=True, metavar="TEXT", help="Why, in a few words (kept in the ledger).")


@command(patients_group, "opt-out")
@click.argument("emr_id")
@_CHANNEL
@_NOTE
@click.option("--json", "as_json", is_flag=True)
def patients_opt_out(ctx, emr_id, channel, note, as_json):
    """Record an opt-out the patient asked for (by phone, at the desk)."""
    from core.optouts import ledger

    done = ledger.record(ctx, emr_id, channel, note)
    if as_json:
        return emit(done.to_json())
    first, *rest = done.lines()
    click.echo(first)
    for line in rest:
        click.echo(f"  {line}")


@command(patients_group, "opt-in")
@click.argument("emr_id")
@_CHANNEL
@_NOTE
@click.option("--json", "as_json", is_flag=True)
def patients_opt_in(ctx, emr_id, channel, note, as_json):
    """Undo a patient's opt-out (admin); a later start includes them again."""
    from core.optouts import ledger

    done = ledger.clear(ctx, emr_id, channel, note)
    if as_json:
        return emit(done.to_json())
    click.echo(f"{done.emr_id}: opt-out of {done.channel} undone ({done.cleared} cleared)")


@command(patients_group, "show")
@click.argument("emr_id")
@click.option("--json", "as_json", is_flag=True)
def patients_show(ctx, emr_id, as_json):
    """A patient's record, opt-outs and campaigns."""
    from core.patients import view as patient_view

    view = patient_view.show(ctx, emr_id)
    language = ctx.user.language or ctx.config.clinic.default_language
    if as_json:
        return emit(view.to_json())
    for key, value in view.record.items():
        click.echo(f"{key:>18}: {'' if value is None else value}")
    click.echo("opt-outs:" if view.opt_outs else "opt-outs: none")
    for o in view.opt_outs:
        state = "active" if o.active else f"undone {o.cleared_at:%Y-%m-%d} by {o.cleared_by}: {o.cleared_note}"
        note = f" — {o.note}" if o.note else ""
        click.echo(f"  {o.channel:6} {o.day}  {o.source:5} by {o.recorded_by}{note}  [{state}]")
    click.echo("campaigns:" if view.campaigns else "campaigns: none")
    for c in view.campaigns:
        reason = f"  ({c.reason(language)})" if c.reason_code else ""
        click.echo(f"  #{c.id} {c.name[:40]:40} {c.kind:10} {c.status:9} added {c.added_at:%Y-%m-%d}{reason}")


@command(cli, "audit", subcommands=True)
@click.option("--since", metavar="YYYY-MM-DD", help="From this day (clinic time zone).")
@click.option("--user", "login", metavar="LOGIN", help="Only what this login did.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--csv", "as_csv", is_flag=True)
@output_option
def audit_cmd(ctx, since, login, as_json, as_csv, output):
    """Who changed or read what, and when (admin)."""
    from core.audit import read as audit_read

    if as_json and as_csv:
        raise BadInput("give --json or --csv, not both")
    rows = audit_read.read(ctx, audit_read.parse_since(since), login)
    if as_json:
        return write_out(output, dumps([r.to_json() for r in rows]) + "\n")
    if as_csv:
        return write_out(output, audit_read.to_csv(rows))
    if output != "-":
        raise BadInput(_("--output goes with --csv or --json"))
    for r in rows:
        where = f" campaign {r.campaign_id}" if r.campaign_id is not None else ""
        detail = ", ".join(f"{k}={v}" for k, v in r.detail.items())
        click.echo(f"{r.at:%Y-%m-%d %H:%M:%S}Z {r.user:12} {r.action:16}{where} {detail}")


@command(audit_cmd, "verify")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(ctx, as_json):
    """Check the audit trail's hash chain: a deleted, changed or moved row is named (exit 1)."""
    from core.audit import chain

    verdict = chain.check(ctx)
    if as_json:
        emit(verdict.to_json())
    else:
        for line in verdict.lines():
            click.echo(line)
    if not verdict.intact:
        sys.exit(EXIT_REFUSED)
