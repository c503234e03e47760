"""`clinicast campaigns …`: create, edit, list, show, archive, start."""

from __future__ import annotations

import click

from cli.base import cli, command, emit
from core.enums import DeliveryKind, Kind
from core.errors import BadInput
from core.reasons import describe


@cli.group("campaigns")
def campaigns_group():
    """Create, edit, list, show and start campaigns."""


def _template_arg(path):
    if not path:
        return None
    from core import templating

    try:
        return templating.load_template_file(path)
    except templating.TemplateFileError as e:
        raise BadInput(str(e)) from None


def _print_campaign(s) -> None:
    from core.campaigns.actions import INVITATION_VALID_DAYS

    window = (
        f"{s.starts_on} → {s.ends_on} ({s.window_state})"
        if s.kind == Kind.BROADCAST
        else f"valid {INVITATION_VALID_DAYS} days from sending"
    )
    click.echo(f"#{s.id} {s.name}")
    click.echo(f"  kind: {s.kind} (channel {s.channel})   status: {s.status}")
    click.echo(f"  window: {window}")
    counts = ", ".join(f"{k} {v}" for k, v in s.shown_counts() if v) or "no recipients"
    removed = f", and {s.removed} removed (not counted)" if s.removed else ""
    click.echo(f"  recipients: {s.total} ({counts}){removed}")
    if s.held:
        click.echo(f"  {s.held}")
    if s.funnel:
        click.echo("  funnel: " + ", ".join(f"{k} {v}" for k, v in s.funnel.items()))


@command(campaigns_group, "list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived campaigns.")
@click.option("--json", "as_json", is_flag=True)
def campaigns_list(ctx, include_archived, as_json):
    """Every campaign, newest first."""
    from core import campaigns

    # the text list shows no funnel: it is counted for --json only (`show` has it too)
    rows = campaigns.summaries(ctx, include_archived=include_archived, funnels=as_json)
    if as_json:
        return emit([s.to_json() for s in rows])
    if not rows:
        click.echo("no campaigns yet: clinicast campaigns create --kind invitation --name NAME")
    for s in rows:
        window = f"{s.window_state or '':8}"
        click.echo(f"{s.id:>5}  {s.kind:10} {s.status:16} {window} {s.sent:>5}/{s.total:<5}  {s.name}")


@command(campaigns_group, "create")
@click.option("--kind", required=True, type=click.Choice(["invitation", "broadcast"]))
@click.option("--name", required=True)
@click.option("--starts", metavar="YYYY-MM-DD")
@click.option("--ends", metavar="YYYY-MM-DD")
@click.option("--template", "template_path", type=click.Path(dir_okay=False), help="TOML template file.")
@click.option("--json", "as_json", is_flag=True)
def campaigns_create(ctx, kind, name, starts, ends, template_path, as_json):
    """Create a draft campaign."""
    from core import campaigns

    c = campaigns.create(ctx, kind, name, starts, ends, templates=_template_arg(template_path))
    s = campaigns.summary(ctx, c)
    if as_json:
        return emit(s.to_json())
    click.echo(f"created campaign #{c.id} {c.name!r} ({kind})")


@command(campaigns_group, "edit")
@click.argument("campaign_id")
@click.option("--name")
@click.option("--starts", metavar="YYYY-MM-DD")
@click.option("--ends", metavar="YYYY-MM-DD")
@click.option("--template", "template_path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def campaigns_edit(ctx, campaign_id, name, starts, ends, template_path, as_json):
    """Change a campaign's name, window or templates."""
    from core import campaigns

    c = campaigns.edit(
        ctx, campaign_id, name=name, starts_on=starts, ends_on=ends, templates=_template_arg(template_path)
    )
    if as_json:
        return emit(campaigns.summary(ctx, c).to_json())
    click.echo(f"campaign #{c.id} saved")


@command(campaigns_group, "show")
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True)
def campaigns_show(ctx, campaign_id, as_json):
    """One campaign with its counts."""
    from core import campaigns

    s = campaigns.summary(ctx, campaigns.get(campaign_id))
    if as_json:
        return emit(s.to_json())
    _print_campaign(s)


@command(campaigns_group, "archive")
@click.argument("campaign_id")
@click.option("--undo", is_flag=True, help="Bring an archived campaign back.")
def campaigns_archive(ctx, campaign_id, undo):
    """Hide a campaign from the default list (kept for audit)."""
    from core import campaigns

    c = campaigns.archive(ctx, campaign_id, archived=not undo)
    click.echo(f"campaign #{c.id} {'unarchived' if undo else 'archived'}")


@command(campaigns_group, "start")
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True)
def campaigns_start(ctx, campaign_id, as_json):
    """Send to every recipient not yet sent to."""
    from core import recipients

    plan = recipients.start(ctx, campaign_id)
    if as_json:
        return emit(plan.to_json())
    when = f" ({plan.sending_begins})" if plan.sending_begins else ""
    click.echo(f"campaign #{campaign_id} started: {plan.will_send} to send{when}")
    if plan.pace:
        click.echo(f"  {plan.pace}")
    for code, n in plan.skipped.items():
        click.echo(f"  skipped {n}: {describe(code)}")


@command(campaigns_group, "stop")
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True)
def campaigns_stop(ctx, campaign_id, as_json):
    """Cancel every email or push not yet handed over; those recipients go back to waiting."""
    from core import recipients

    r = recipients.stop(ctx, campaign_id)
    if as_json:
        return emit(r.to_json())
    click.echo(
        f"campaign #{campaign_id} stopped: {r.stopped} not sent (back to assigned; start sends to them), "
        f"{r.already_sent} already sent, {r.in_flight} being sent at this moment (they finish)"
    )


@command(campaigns_group, "test")
@click.argument("campaign_id")
@click.option("--patient", "emr_id", required=True, metavar="EMR_ID", help="The patient the message is rendered for.")
@click.option("--to", "to", metavar="ADDRESS", help="Send the test email here instead of [users.LOGIN] email.")
@click.option("--json", "as_json", is_flag=True)
def campaigns_test(ctx, campaign_id, emr_id, to, as_json):
    """Send yourself the message as this patient would get it, marked as a test."""
    from core import testsend

    t = testsend.send_test(ctx, campaign_id, emr_id, to)
    if as_json:
        return emit(t.to_json())
    what = "test email" if t.kind == DeliveryKind.TEST_EMAIL else "test push and feed entry (for an hour)"
    click.echo(f"{what} for patient {t.patient} queued to {t.to}; the scheduler sends it within moments")


@command(campaigns_group, "reinvite")
@click.argument("campaign_id")
@click.option("--dry-run", is_flag=True, help="Show the breakdown only; send nothing.")
@click.option("--json", "as_json", is_flag=True)
def campaigns_reinvite(ctx, campaign_id, dry_run, as_json):
    """Send a fresh invitation (new code, 14 days) to those whose invitation expired unanswered."""
    from core import recipients

    plan = (recipients.reinvite_plan if dry_run else recipients.reinvite)(ctx, campaign_id)
    if as_json:
        return emit(plan.to_json())
    when = f" ({plan.sending_begins})" if plan.sending_begins else ""
    verb = "would re-invite" if dry_run else "re-invited"
    click.echo(f"campaign #{campaign_id} {verb}: {plan.will_send} to send{when}")
    for code, n in plan.skipped.items():
        click.echo(f"  skipped {n}: {describe(code)}")
    click.echo(f"  re-invited before (not sent again): {plan.already_sent}")
