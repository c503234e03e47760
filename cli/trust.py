"""`clinicast patients opt-out | opt-in | show` and `clinicast audit` (SPEC §7, §10)."""

from __future__ import annotations

import sys

import click

from cli.base import EXIT_REFUSED, cli, command, dumps, emit, output_option, write_out
from cli.help import DAY, EMR_ID, TEXT
from cli.patients import patients_group
from cli.words import widths, word
from core.enums import OptOutChannel
from core.errors import BadInput
from core.formats import day, number, when
from core.i18n import N_, _, ngettext

_CHANNEL = click.option(
    "--channel",
    required=True,
    metavar="|".join(OptOutChannel),
    help=N_("What the patient opts out of (all: every one)."),
)
_CHANNEL_UNDONE = click.option(
    "--channel",
    required=True,
    metavar="|".join(OptOutChannel),
    help=N_("Which of the patient's opt-outs to undo (all: every active one)."),
)
_NOTE = click.option("--note", required=True, metavar=TEXT, help=N_("Why, in a few words (kept in the ledger)."))
_JSON_HELP = N_("Print one JSON document (the spec's English keys and codes).")


@command(patients_group, "opt-out", help=N_("Record an opt-out the patient asked for (by phone, at the desk)."))
@click.argument("emr_id", metavar=EMR_ID)
@_CHANNEL
@_NOTE
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def patients_opt_out(ctx, emr_id, channel, note, as_json):
    from core.optouts import ledger

    done = ledger.record(ctx, emr_id, channel, note)
    if as_json:
        return emit(done.to_json())
    first, *rest = done.lines()
    click.echo(first)
    for line in rest:
        click.echo(f"  {line}")


@command(patients_group, "opt-in", help=N_("Undo a patient's opt-out (admin); a later start includes them again."))
@click.argument("emr_id", metavar=EMR_ID)
@_CHANNEL_UNDONE
@_NOTE
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def patients_opt_in(ctx, emr_id, channel, note, as_json):
    from core.optouts import ledger

    done = ledger.clear(ctx, emr_id, channel, note)
    if as_json:
        return emit(done.to_json())
    click.echo(
        ngettext(
            "{emr_id}: opt-out of {channel} undone ({n} cleared)",
            "{emr_id}: opt-out of {channel} undone ({n} cleared)",
            done.cleared,
        ).format(emr_id=done.emr_id, channel=word("channel", done.channel), n=number(done.cleared))
    )
    if done.all_since is not None:
        said = _(
            "still opted out of every channel since {day}: nothing reaches them until that is undone too "
            "(--channel all)"
        )
        click.echo("  " + said.format(day=day(done.all_since)))


def _field_value(key: str, value) -> str:
    """A record's value as a person reads it: yes/no, a day in their language."""
    from datetime import date

    if value is None:
        return ""
    if isinstance(value, bool):
        return word("bool", value)
    if key in ("date_of_birth", "last_visit") and isinstance(value, str):
        try:
            return day(date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


@command(patients_group, "show", help=N_("A patient's record, opt-outs and campaigns."))
@click.argument("emr_id", metavar=EMR_ID)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def patients_show(ctx, emr_id, as_json):
    from core.patients import view as patient_view

    view = patient_view.show(ctx, emr_id)
    if as_json:
        return emit(view.to_json())
    tz = ctx.config.clinic.tz
    labels = {key: word("field", key) for key in view.record}
    width = max(map(len, labels.values()), default=0)
    for key, value in view.record.items():
        click.echo(_("{field}: {value}").format(field=f"{labels[key]:>{width}}", value=_field_value(key, value)))
    click.echo(_("opt-outs:") if view.opt_outs else _("opt-outs: none"))
    # the words' columns as wide as their longest word in the language in use: « notification »
    # and « en reprise » are longer than the 8 and 9 columns "push" and "retrying" needed
    channels = [(word("channel", o.channel),) for o in view.opt_outs]
    (channel_wide,) = widths(channels, (8,))  # as wide as before, at least
    for o, (channel,) in zip(view.opt_outs, channels, strict=True):
        if o.active:
            state = _("active")
        else:
            state = _("undone {day} by {login}: {note}").format(
                day=when(o.cleared_at, tz), login=o.cleared_by, note=o.cleared_note
            )
        note = f" — {o.note}" if o.note else ""
        by = o.origin()
        # its time as well as its day: a message sent the same day was sent before it or after
        click.echo(f"  {channel:{channel_wide}} {when(o.at, tz)}  {by}{note}  [{state}]")
    click.echo(_("campaigns:") if view.campaigns else _("campaigns: none"))
    cells = [(word("kind", c.kind), word("recipient", c.status)) for c in view.campaigns]
    kind_wide, status_wide = widths(cells, (10, 9))
    for c, (kind, status) in zip(view.campaigns, cells, strict=True):
        reason = f"  ({c.reason()})" if c.reason_code else ""
        added = _("added {day}").format(day=day(c.added_at, tz))
        # when the message left, to set beside an opt-out's time (a patient who calls)
        sent = "  " + _("sent {when}").format(when=when(c.sent_at, tz)) if c.sent_at else ""
        click.echo(f"  #{c.id} {c.name[:40]:40} {kind:{kind_wide}} {status:{status_wide}} {added}{sent}{reason}")


@command(cli, "audit", subcommands=True, help=N_("Who changed or read what, and when (admin)."))
@click.option("--since", metavar=DAY, help=N_("From this day (clinic time zone)."))
@click.option("--user", "login", metavar=N_("LOGIN"), help=N_("Only what this login did."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.option("--csv", "as_csv", is_flag=True, help=N_("The trail as CSV."))
@output_option
def audit_cmd(ctx, since, login, as_json, as_csv, output):
    from core.audit import read as audit_read

    if as_json and as_csv:
        raise BadInput(_("give --json or --csv, not both"))
    rows = audit_read.read(ctx, audit_read.parse_since(since), login)
    if as_json:
        return write_out(output, dumps([r.to_json() for r in rows]) + "\n")
    if as_csv:
        return write_out(output, audit_read.to_csv(ctx.config, rows))
    if output != "-":
        raise BadInput(_("--output goes with --csv or --json"))
    from core.audit.words import describe, row_number

    if not rows:  # a blank at a terminal reads as a command that did not run
        click.echo(_("no entries"))
        return None
    tz = ctx.config.clinic.tz
    # in words, in the reader's language (--json and --csv keep the trail's codes), each row
    # numbered as `audit verify` names it (« n° 6 »)
    numbers = [row_number(r.id) for r in rows]
    width = max(map(len, numbers), default=0)
    # the action as wide as its longest word in the language in use, never narrower than the
    # 16 columns sized for English: a longer translation cannot push the rest of its line over
    actions = [(word("audit", r.action),) for r in rows]
    (action_wide,) = widths(actions, (16,))
    for row, r, (action,) in zip(numbers, rows, actions, strict=True):
        where = " " + _("campaign {id}").format(id=r.campaign_id) if r.campaign_id is not None else ""
        click.echo(
            f"{row:>{width}} {when(r.at, tz, seconds=True)} {r.user:12} {action:{action_wide}}{where} "
            f"{describe(r.detail, tz)}"
        )


@command(
    audit_cmd,
    "verify",
    help=N_("Check the audit trail's hash chain: a deleted, changed or moved row is named (exit 1)."),
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def audit_verify(ctx, as_json):
    from core.audit import chain

    verdict = chain.check(ctx)
    if as_json:
        emit(verdict.to_json())
    else:
        for line in verdict.lines(ctx.config.clinic.tz):
            click.echo(line)
    if not verdict.intact:
        sys.exit(EXIT_REFUSED)
