"""`clinicast recipients …`: add, remove, list."""

from __future__ import annotations

import click

from cli.base import FileIn, cli, command, dumps, emit, output_option, write_out
from cli.help import CAMPAIGN_ID, EMR_ID, FILE
from cli.words import widths, word
from core.enums import Permission
from core.errors import BadInput, Refused
from core.formats import day, number, when
from core.i18n import N_, _, ngettext

_JSON_HELP = N_("Print one JSON document (the spec's English keys and codes).")


@cli.group("recipients", help=N_("Add, remove and list a campaign's recipients."))
def recipients_group():
    pass


@command(recipients_group, "add", help=N_("Assign patients to a campaign."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--patient", "emr_id", metavar=EMR_ID, help=N_("One patient by EMR id."))
@click.option(
    "--where", "where", multiple=True, metavar=N_('"FIELD OP VALUE"'), help=N_("A condition; repeat: all must hold.")
)
@click.option("--csv", "csv_path", type=FileIn(), metavar=FILE, help=N_("A CSV list of EMR ids."))
@click.option(
    "--allow-unknown-values",
    "unknown_ok",
    is_flag=True,
    help=N_("With --where: assign even if a condition compares with a value no patient has (else refused)."),
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def recipients_add(ctx, campaign_id, emr_id, where, csv_path, unknown_ok, as_json):
    from core import conditions, recipients
    from core.recipients.idlist import LISTED

    given = [x for x in (emr_id, where, csv_path) if x]
    if len(given) != 1:
        raise BadInput(_('give exactly one of --patient EMR_ID, --where "FIELD OP VALUE"..., --csv FILE'))
    if emr_id:
        result = recipients.assign_patient(ctx, campaign_id, emr_id)
    elif where:
        result = _assign_where(ctx, campaign_id, conditions.parse_all(list(where)), unknown_ok)
    else:
        result = recipients.assign_csv(ctx, campaign_id, csv_path)
    if as_json:
        return emit(result.to_json())
    for line in result.lines():  # core's words, those of the TUI's notice, one clause a line
        click.echo(line)
    if result.not_found_lines:  # a CSV list: each unknown id by its line (SPEC §4), under core's count of them
        _listed(None, result.not_found_lines)
    elif result.not_found:
        ids = ", ".join(result.not_found[:LISTED]) + (" …" if len(result.not_found) > LISTED else "")
        click.echo("  " + _("not found: {ids}").format(ids=ids))
    if result.duplicates:  # counted once; said, so a wrong export is noticed (issue #8)
        n = len(result.duplicates)
        said = ngettext("{n} duplicate line counted once:", "{n} duplicate lines counted once:", n)
        _listed(said.format(n=number(n)), result.duplicates)


def _assign_where(ctx, campaign_id, conds, unknown_ok: bool):
    """An assign by conditions. A value no patient has (`practitioner != "Dr Gagnin"`: a
    typo, and nearly everyone selected) is refused, one line each with the closest values
    and the way to go ahead (exit 1, nothing written); with --allow-unknown-values it is
    said on stderr and the assign goes ahead. --json's output is the same either way."""
    from core import conditions, recipients

    if unknown_ok:
        for u in conditions.unknown_values(ctx, conds):
            click.echo(_("warning: {line}").format(line=u.words()), err=True)
    try:
        return recipients.assign_conditions(ctx, campaign_id, conds, unknown_ok=unknown_ok)
    except conditions.UnknownValues as e:
        lines = [u.words() for u in e.unknown]
        lines.append(_("nothing was added: correct the value, or give --allow-unknown-values to assign anyway"))
        raise Refused("\n".join(lines)) from None


def _listed(heading: str | None, lines: list[str]) -> None:
    """A heading (None: the line above is theirs), then the first LISTED lines of a list
    and "… and N more"."""
    from core.recipients.idlist import LISTED

    pad = "  "
    if heading is not None:
        click.echo(pad + heading)
        pad += "  "
    for line in lines[:LISTED]:
        click.echo(f"{pad}{line}")
    if len(lines) > LISTED:
        click.echo(pad + _("… and {n} more").format(n=number(len(lines) - LISTED)))


@command(recipients_group, "remove", help=N_("Take one patient off a campaign."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.argument("emr_id", metavar=EMR_ID)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def recipients_remove(ctx, campaign_id, emr_id, as_json):
    from core import campaigns, recipients

    what = recipients.remove(ctx, campaign_id, emr_id)
    if as_json:
        return emit(
            {
                "campaign_id": campaigns.get(campaign_id).id,
                "emr_id": emr_id,
                "status": "removed",
                "outcome": what.english(),
            }
        )
    click.echo(_("removed {emr_id}: {outcome}").format(emr_id=emr_id, outcome=what.words()))


@command(recipients_group, "list", help=N_("A campaign's recipients with status and dates."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--status", default=None, metavar=N_("STATUS"), help=N_("Only recipients with this status."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.option("--csv", "as_csv", is_flag=True, help=N_("The ledger as CSV (for an incident register)."))
@output_option
def recipients_list(ctx, campaign_id, status, as_json, as_csv, output):
    from core import campaigns, exports, recipients

    ctx.require(Permission.CAMPAIGNS)
    campaigns.get(campaign_id)
    if as_json and as_csv:
        raise BadInput(_("give --json or --csv, not both"))
    if as_csv:
        exports.recipients_csv(ctx, campaign_id, status, write=lambda text: write_out(output, text))
        return None
    if as_json:  # an export as the CSV is: audited
        exports.recipients_json(ctx, campaign_id, status, write=lambda rows: write_out(output, dumps(rows) + "\n"))
        return None
    rows = recipients.page(ctx, campaign_id, status=status, limit=None)
    if output != "-":
        raise BadInput(_("--output goes with --csv or --json"))
    tz = ctx.config.clinic.tz
    # the status as wide as its longest word in the language in use: « dans le fil, sans
    # notification » is longer than the 16 columns "in feed, no push" needed
    cells = [(str(r.emr_id), word("recipient", r.shown_status)) for r in rows]
    wide = widths(cells, (10, 16))  # as wide as before, at least
    for r, (emr_id, status) in zip(rows, cells, strict=True):
        reason = f"  ({r.reason(when=lambda t: when(t, tz))})" if r.shown_reason_code else ""
        line = _("added {added}  sent {sent}").format(
            added=day(r.added_at, tz), sent=when(r.sent_at, tz) if r.sent_at else "-"
        )
        click.echo(f"{emr_id:>{wide[0]}}  {r.name[:30]:30} {status:{wide[1]}} {line}{reason}")
