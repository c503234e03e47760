"""`clinicast campaigns …`: create, edit, list, show, archive, start."""

from __future__ import annotations

import click

from cli.base import FileIn, cli, command, emit
from cli.help import CAMPAIGN_ID, DAY, EMR_ID, FILE, NAME, Valued
from cli.words import widths, word
from core.enums import Kind
from core.errors import BadInput
from core.formats import day, number
from core.i18n import N_, _, ngettext
from core.textcheck import quoted_value
from core.words import funnel_steps

_JSON_HELP = N_("Print one JSON document (the spec's English keys and codes).")


@cli.group("campaigns", help=N_("Create, edit, list, show and start campaigns."))
def campaigns_group():
    pass


def _template_arg(path):
    if not path:
        return None
    from core import templating

    try:
        return templating.load_template_file(path)
    except templating.TemplateFileError as e:
        raise BadInput(str(e)) from None


def _gap_warnings(ctx, campaign_id) -> None:
    """Who would get another language (a blank version): said, not refused — at a start,
    and when a template file is saved."""
    from core import campaigns

    for gap in campaigns.language_gaps(ctx, campaign_id):
        click.echo("  " + _("warning: {line}").format(line=gap), err=True)


def _template_notes(ctx, campaign_id: int, templates, *, created: bool) -> None:
    """After a template file is saved: each version it left out, kept (one line), then
    who gets another language than their own."""
    if templates is None:
        return
    from core import campaigns

    for kept in campaigns.kept_versions(ctx, campaign_id, templates, created=created):
        click.echo(f"  {kept}")
    _gap_warnings(ctx, campaign_id)


def _day(d) -> str:
    """A window's day; a stored value that is not a day at all (SQLite keeps text) as it is."""
    from datetime import date

    return day(d) if isinstance(d, date) else str(d or "")


def _print_campaign(s, pace: str = "") -> None:
    from core.campaigns.actions import INVITATION_VALID_DAYS

    if s.kind == Kind.BROADCAST:
        window = _("{starts} → {ends} ({state})").format(
            starts=_day(s.starts_on), ends=_day(s.ends_on), state=word("window", s.window_state)
        )
    else:
        window = ngettext("valid {n} day from sending", "valid {n} days from sending", INVITATION_VALID_DAYS).format(
            n=INVITATION_VALID_DAYS
        )
    click.echo(f"#{s.id} {s.name}")
    click.echo(
        "  "
        + _("kind: {kind} (channel {channel})   status: {status}").format(
            kind=word("kind", s.kind), channel=word("channel", s.channel), status=word("campaign", s.status)
        )
    )
    click.echo("  " + _("window: {window}").format(window=window))
    counts = ", ".join(f"{word('recipient', k)} {number(v)}" for k, v in s.shown_counts() if v)
    if s.removed:
        line = ngettext(
            "recipients: {total} ({counts}), and {removed} removed (not counted)",
            "recipients: {total} ({counts}), and {removed} removed (not counted)",
            s.removed,
        )
    else:
        line = _("recipients: {total} ({counts})")
    click.echo(
        "  " + line.format(total=number(s.total), counts=counts or _("no recipients"), removed=number(s.removed))
    )
    if s.held:
        click.echo(f"  {s.held}")
    if pace:
        click.echo("  " + _("pace: {pace}").format(pace=pace))
    if s.funnel:
        click.echo("  " + _("funnel: {steps}").format(steps=funnel_steps(s.funnel)))


@command(campaigns_group, "list", help=N_("Every campaign, newest first."))
@click.option("--all", "include_archived", is_flag=True, help=N_("Include archived campaigns."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_list(ctx, include_archived, as_json):
    from core import campaigns

    # the text list shows no funnel: it is counted for --json only (`show` has it too)
    rows = campaigns.summaries(ctx, include_archived=include_archived, funnels=as_json, feed_only=False)
    if as_json:
        return emit([s.to_json() for s in rows])
    if not rows:
        from cli.ssh import as_typed

        create = as_typed(["campaigns", "create", "--kind", "invitation", "--name", _("NAME")])
        click.echo(_("no campaigns yet: {command}").format(command=create))
    # columns as wide as their longest word in the language in use: « envoyée avec erreurs »
    # is longer than "sent with errors", and a fixed width pushed the rest of its line over
    cells = [
        (
            str(s.id),
            word("kind", s.kind),
            word("campaign", s.status),
            word("window", s.window_state),
            f"{number(s.sent)}/{number(s.total)}",
        )
        for s in rows
    ]
    wide = widths(cells, (5, 10, 16, 8, 11))  # as wide as before, at least
    for s, (cid, kind, status, window, sent) in zip(rows, cells, strict=True):
        click.echo(
            f"{cid:>{wide[0]}}  {kind:{wide[1]}} {status:{wide[2]}} {window:{wide[3]}} {sent:>{wide[4]}}  {s.name}"
        )


@command(campaigns_group, "create", help=N_("Create a draft campaign."))
@click.option(
    "--kind", required=True, type=click.Choice(["invitation", "broadcast"]), help=N_("What the campaign sends.")
)
@click.option("--name", required=True, metavar=NAME, help=N_("The campaign's name, as staff see it."))
@click.option("--starts", metavar=DAY, help=N_("A broadcast's first day."))
@click.option("--ends", metavar=DAY, help=N_("A broadcast's last day."))
@click.option("--template", "template_path", type=FileIn(), metavar=FILE, help=N_("TOML template file."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_create(ctx, kind, name, starts, ends, template_path, as_json):
    from core import campaigns

    templates = _template_arg(template_path)
    c = campaigns.create(ctx, kind, name, starts, ends, templates=templates)
    s = campaigns.summary(ctx, c)
    if as_json:
        return emit(s.to_json())
    click.echo(
        _("created campaign #{id} {name} ({kind})").format(id=c.id, name=quoted_value(c.name), kind=word("kind", kind))
    )
    _template_notes(ctx, c.id, templates, created=True)


@command(campaigns_group, "edit", help=N_("Change a campaign's name, window or templates."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--name", metavar=NAME, help=N_("The campaign's new name."))
@click.option("--starts", metavar=DAY, help=N_("A broadcast's first day."))
@click.option("--ends", metavar=DAY, help=N_("A broadcast's last day."))
@click.option("--template", "template_path", type=FileIn(), metavar=FILE, help=N_("TOML template file."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_edit(ctx, campaign_id, name, starts, ends, template_path, as_json):
    from core import campaigns

    templates = _template_arg(template_path)
    c = campaigns.edit(ctx, campaign_id, name=name, starts_on=starts, ends_on=ends, templates=templates)
    if as_json:
        return emit(campaigns.summary(ctx, c).to_json())
    click.echo(_("campaign #{id} saved").format(id=c.id))
    _template_notes(ctx, c.id, templates, created=False)


@command(campaigns_group, "show", help=N_("One campaign: its counts, and who created, started and stopped it."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_show(ctx, campaign_id, as_json):
    from core import campaigns, pace

    c = campaigns.get(campaign_id)
    s = campaigns.summary(ctx, c)
    # who created, started and stopped it, and when: a manager's « who sent this? »
    acts = campaigns.history(ctx, c)
    if as_json:
        return emit({**s.to_json(), **acts.to_json()})
    # an invitation's emails go at the relay's pace (SPEC §5): why they stay queued
    _print_campaign(s, pace.campaign_words(ctx.config, s.id, ctx.now()) if s.kind == Kind.INVITATION else "")
    for line in acts.lines(ctx.config.clinic.tz):
        click.echo(f"  {line}")


@command(campaigns_group, "archive", help=N_("Hide a campaign from the default list (kept for audit)."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--undo", is_flag=True, help=N_("Bring an archived campaign back."))
def campaigns_archive(ctx, campaign_id, undo):
    from core import campaigns

    c = campaigns.archive(ctx, campaign_id, archived=not undo)
    click.echo((_("campaign #{id} unarchived") if undo else _("campaign #{id} archived")).format(id=c.id))


def _valid_days() -> int:
    from core.campaigns.actions import INVITATION_VALID_DAYS

    return INVITATION_VALID_DAYS


@command(campaigns_group, "start", help=N_("Send to every recipient not yet sent to."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_start(ctx, campaign_id, as_json):
    from core import recipients

    plan = recipients.start(ctx, campaign_id)
    if as_json:
        return emit(plan.to_json())
    if plan.sending_begins:
        line = _("campaign #{id} started: {n} to send ({when})")
    else:
        line = _("campaign #{id} started: {n} to send")
    click.echo(line.format(id=campaign_id, n=number(plan.will_send), when=plan.sending_begins))
    waiting = plan.waiting_line()
    if waiting:  # no daemon alive: they wait for one (the command line never sends)
        click.echo(f"  {waiting}")
    if plan.pace:
        click.echo(f"  {plan.pace}")
    for line in plan.left_out_lines():  # without the push (in their feed all the same), skipped, and why
        click.echo(f"  {line}")
    _gap_warnings(ctx, campaign_id)


@command(
    campaigns_group,
    "stop",
    help=N_("Cancel every email or push not yet handed over; those recipients go back to waiting."),
)
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_stop(ctx, campaign_id, as_json):
    from core import recipients

    r = recipients.stop(ctx, campaign_id)
    if as_json:
        return emit(r.to_json())
    click.echo(r.words())  # core's words, as the TUI says them; a broadcast's feeds on their own line


@command(campaigns_group, "test", help=N_("Send yourself the message as this patient would get it, marked as a test."))
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--patient", "emr_id", required=True, metavar=EMR_ID, help=N_("The patient the message is rendered for."))
@click.option("--to", "to", metavar=N_("ADDRESS"), help=N_("Send the test email here instead of [users.LOGIN] email."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_test(ctx, campaign_id, emr_id, to, as_json):
    from core import testsend

    t = testsend.send_test(ctx, campaign_id, emr_id, to)
    if as_json:
        return emit(t.to_json())
    click.echo(t.words())


@command(
    campaigns_group,
    "reinvite",
    help=Valued(
        N_("Send a fresh invitation (new code, {days} days) to those whose invitation expired unanswered."),
        lambda: {"days": _valid_days()},
    ),
)
@click.argument("campaign_id", metavar=CAMPAIGN_ID)
@click.option("--dry-run", is_flag=True, help=N_("Show the breakdown only; send nothing."))
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
def campaigns_reinvite(ctx, campaign_id, dry_run, as_json):
    from core import recipients

    plan = (recipients.reinvite_plan if dry_run else recipients.reinvite)(ctx, campaign_id)
    if as_json:
        return emit(plan.to_json())
    for line in plan.reinvite_lines() if dry_run else plan.reinvited_lines():  # as the TUI says them
        click.echo(line)
