"""The `clinicast` command (SPEC §7).

Exit status 0 on success, 1 on a refused action (permission, limit, rule), 2 on bad usage
or bad input, always with one clear line on stderr. With --json a command prints one JSON
document on stdout. With no subcommand it opens the TUI (imported only then: the core and
the daemon never load Textual).
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from datetime import date, datetime

import click

from . import __version__
from .config import Config, ConfigError
from .errors import BadInput, ClinicastError

EXIT_REFUSED, EXIT_BAD = 1, 2


class Fail(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _die(message: str, code: int) -> None:
    for line in str(message).splitlines() or [""]:
        click.echo(f"clinicast: {line}", err=True)
    sys.exit(code)


def _json_default(o):
    if isinstance(o, (date, datetime)):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def emit(data) -> None:
    click.echo(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2))


# --- plumbing: --config on every command, one place that maps errors to exit codes ---


def _config_option(f):
    return click.option(
        "--config",
        "config_path",
        metavar="PATH",
        default=None,
        help="Config file (else $CLINICAST_CONFIG, ./clinicast.toml, "
        "the user's config folder, /etc/clinicast/config.toml).",
    )(f)


def _load_config(explicit: str | None) -> Config:
    from . import config as cfg

    path = explicit or click.get_current_context().find_root().obj.get("config_path")
    return cfg.load(path)


def command(group, name: str, *, db: bool = True, user: bool = True, config: bool = True):
    """Register a subcommand that receives `ctx` (core.context.Ctx), or `config`, or (with
    config=False) the --config path as given."""

    def wrap(f):
        @group.command(name)
        @_config_option
        @functools.wraps(f)
        def run(config_path, **kwargs):
            try:
                if not config:
                    return f(config_path, **kwargs)
                loaded = _load_config(config_path)
                if db:
                    from . import db as dbmod

                    dbmod.bind(loaded.database.url)
                    try:
                        dbmod.check_schema()
                    except dbmod.DatabaseError as e:
                        raise Fail(str(e), EXIT_REFUSED) from None
                if user:
                    from .context import for_current_user

                    return f(for_current_user(loaded), **kwargs)
                return f(loaded, **kwargs)
            except ConfigError as e:
                _die(str(e), EXIT_BAD)
            except ClinicastError as e:
                _die(str(e), e.exit_code)
            except Fail as e:
                _die(str(e), e.code)
            except OSError as e:
                _die(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": "), EXIT_BAD)

        return run

    return wrap


class OneLineErrors(click.Group):
    """Usage errors as one line on stderr (`clinicast: campaigns create: …`), exit 2."""

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        try:
            rv = super().main(args=args, prog_name=prog_name or "clinicast", standalone_mode=False, **extra)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "clinicast"
            _die(f"{e.format_message()} (see {where} --help)", EXIT_BAD)
        except click.ClickException as e:
            _die(e.format_message(), e.exit_code)
        except click.Abort:
            _die("aborted", EXIT_REFUSED)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineErrors, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_config_option
@click.version_option(__version__, prog_name="clinicast")
@click.pass_context
def cli(ctx: click.Context, config_path):
    """Send campaigns to the clinic's patients. With no command, opens the TUI."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    if ctx.invoked_subcommand is None:
        app = importlib.import_module("tui.app")
        sys.exit(app.run(config_path))


# --- setup --------------------------------------------------------------------------


@command(cli, "init", db=False, user=False)
def init_cmd(config: Config):
    """Create or migrate the database."""
    from . import db as dbmod
    from .context import for_current_user

    for_current_user(config).require("admin")
    dbmod.bind(config.database.url)
    before, after = dbmod.migrate()
    if before == after:
        click.echo(f"database is up to date (schema version {after})")
    else:
        click.echo(f"database migrated from schema version {before} to {after}")


@cli.group("config")
def config_group():
    """Configuration checks."""


@command(config_group, "check", db=False, user=False)
def config_check(config: Config):
    """Validate the config file (and reach the database)."""
    from . import db as dbmod
    from .context import for_current_user

    ctx = for_current_user(config)
    ctx.require("admin")
    dbmod.bind(config.database.url)
    try:
        dbmod.check_schema()
        db_state = f"schema version {dbmod.schema_version()}"
    except dbmod.DatabaseError as e:
        db_state = str(e)
    click.echo(f"{config.path}: ok")
    click.echo(
        f"  clinic: {config.clinic.name} ({config.clinic.timezone}, default language {config.clinic.default_language})"
    )
    click.echo(f"  database: {_redact(config.database.url)}: {db_state}")
    click.echo(
        f"  email: {config.email.transport} "
        + (
            config.email.path
            if config.email.transport == "maildir"
            else f"{config.email.host}:{config.email.port} ({config.email.security})"
        )
    )
    click.echo(
        f"  gateway: {config.gateway.transport} "
        + (config.gateway.path if config.gateway.transport == "log" else config.gateway.url)
    )
    click.echo(f"  users: {', '.join(sorted(config.users)) or 'none'}")


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(url)
    if not u.netloc:
        return url
    if u.password:
        u = u._replace(netloc=u.netloc.replace(f":{u.password}@", ":***@"))
    return urlunsplit(u)


@command(cli, "status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status_cmd(ctx, as_json):
    """Schema version, counts, live daemons, deliveries due/retrying/failed."""
    from . import status

    data = status.overview(ctx)
    if as_json:
        return emit(data)
    click.echo(status.format_overview(data))


@command(cli, "daemon", db=False, user=False)
@click.option("--once", is_flag=True, help="Do everything due now, wait for it, and exit.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def daemon_cmd(config: Config, once, log_level):
    """Headless scheduler and dispatcher."""
    from . import daemon

    sys.exit(daemon.run(config, once=once, log_level=log_level))


@command(cli, "demo", config=False)
@click.option("--folder", default=None, metavar="DIR", help="Where to put the demo database (default: a temp folder).")
def demo_cmd(_config_path, folder):
    """The TUI on a fresh demo database and local sinks."""
    import tempfile

    from . import demo

    path = demo.prepare(folder or tempfile.mkdtemp(prefix="clinicast-demo-"))
    click.echo(f"demo config: {path}", err=True)
    app = importlib.import_module("tui.app")
    sys.exit(app.run(str(path)))


# --- patients -----------------------------------------------------------------------


@cli.group("patients")
def patients_group():
    """The patient directory."""


@command(patients_group, "import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def patients_import(ctx, file, as_json):
    """Upsert the patient directory from an EMR export (CSV)."""
    from . import patients

    result = patients.import_csv(ctx, file)
    if as_json:
        return emit(result.to_json())
    click.echo(f"{file}: {result.total} patients: {result.inserted} new, {result.updated} updated")


# --- campaigns ----------------------------------------------------------------------


@cli.group("campaigns")
def campaigns_group():
    """Create, edit, list, show and start campaigns."""


def _template_arg(path):
    if not path:
        return None
    from . import templating

    try:
        return templating.load_template_file(path)
    except templating.TemplateFileError as e:
        raise BadInput(str(e)) from None


def _print_campaign(s) -> None:
    window = (
        f"{s.starts_on} → {s.ends_on} ({s.window_state})" if s.kind == "broadcast" else "valid 14 days from sending"
    )
    click.echo(f"#{s.id} {s.name}")
    click.echo(f"  kind: {s.kind} (channel {s.channel})   status: {s.status}")
    click.echo(f"  window: {window}")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(s.counts.items())) or "no recipients"
    click.echo(f"  recipients: {s.total} ({counts})")
    if s.funnel:
        click.echo("  funnel: " + ", ".join(f"{k} {v}" for k, v in s.funnel.items()))


@command(campaigns_group, "list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived campaigns.")
@click.option("--json", "as_json", is_flag=True)
def campaigns_list(ctx, include_archived, as_json):
    """Every campaign, newest first."""
    from . import campaigns

    rows = campaigns.summaries(ctx, include_archived=include_archived)
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
    from . import campaigns

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
    from . import campaigns

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
    from . import campaigns

    s = campaigns.summary(ctx, campaigns.get(campaign_id))
    if as_json:
        return emit(s.to_json())
    _print_campaign(s)


@command(campaigns_group, "archive")
@click.argument("campaign_id")
@click.option("--undo", is_flag=True, help="Bring an archived campaign back.")
def campaigns_archive(ctx, campaign_id, undo):
    """Hide a campaign from the default list (kept for audit)."""
    from . import campaigns

    c = campaigns.archive(ctx, campaign_id, archived=not undo)
    click.echo(f"campaign #{c.id} {'unarchived' if undo else 'archived'}")


@command(campaigns_group, "start")
@click.argument("campaign_id")
@click.option("--json", "as_json", is_flag=True)
def campaigns_start(ctx, campaign_id, as_json):
    """Send to every recipient not yet sent to."""
    from . import recipients

    plan = recipients.start(ctx, campaign_id)
    if as_json:
        return emit(plan.to_json())
    when = (
        ""
        if not plan.queued_for or plan.queued_for <= ctx.now()
        else f" (queued for {plan.queued_for:%Y-%m-%d %H:%M} UTC, when the window opens)"
    )
    click.echo(f"campaign #{campaign_id} started: {plan.will_send} to send{when}")
    for reason, n in plan.skipped.items():
        click.echo(f"  skipped {n}: {reason}")


# --- recipients ---------------------------------------------------------------------


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
    from . import conditions, recipients

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
    for reason, n in result.skipped_reasons.items():
        click.echo(f"  skipped {n}: {reason}")
    if result.not_found:
        click.echo("  not found: " + ", ".join(result.not_found[:20]) + (" …" if len(result.not_found) > 20 else ""))


@command(recipients_group, "remove")
@click.argument("campaign_id")
@click.argument("emr_id")
def recipients_remove(ctx, campaign_id, emr_id):
    """Take one patient off a campaign."""
    from . import recipients

    what = recipients.remove(ctx, campaign_id, emr_id)
    click.echo(f"removed {emr_id}: {what}")


@command(recipients_group, "list")
@click.argument("campaign_id")
@click.option("--status", default=None, help="Only recipients with this status.")
@click.option("--json", "as_json", is_flag=True)
def recipients_list(ctx, campaign_id, status, as_json):
    """A campaign's recipients with status and dates."""
    from . import campaigns, recipients

    ctx.require("campaigns")
    campaigns.get(campaign_id)
    rows = recipients.page(campaign_id, status=status, limit=None)
    if as_json:
        return emit([r.to_json() for r in rows])
    for r in rows:
        sent = f"{r.sent_at:%Y-%m-%d %H:%M}" if r.sent_at else "-"
        reason = f"  ({r.reason})" if r.reason else ""
        click.echo(f"{r.emr_id:>10}  {r.name[:30]:30} {r.status:9} added {r.added_at:%Y-%m-%d}  sent {sent}{reason}")


def main(argv=None) -> None:
    cli.main(args=argv, obj={})


if __name__ == "__main__":
    main()
