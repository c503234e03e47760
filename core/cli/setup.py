"""`clinicast init`, `config check`, `status`, `daemon`, `demo`."""

from __future__ import annotations

import importlib
import sys

import click

from .base import Config, cli, command, emit


@command(cli, "init", db=False, user=False)
def init_cmd(config: Config):
    """Create or migrate the database."""
    from .. import db as dbmod
    from ..context import for_current_user

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
    from .. import db as dbmod
    from ..context import for_current_user

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
    click.echo(f"  database: {dbmod.redacted(config.database.url)}: {db_state}")
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


@command(cli, "status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status_cmd(ctx, as_json):
    """Schema version, counts, live daemons, deliveries due/retrying/failed."""
    from .. import status

    data = status.overview(ctx)
    if as_json:
        return emit(data)
    click.echo(status.format_overview(data))


@command(cli, "daemon", db=False, user=False)
@click.option("--once", is_flag=True, help="Do everything due now, wait for it, and exit.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def daemon_cmd(config: Config, once, log_level):
    """Headless scheduler and dispatcher."""
    from .. import daemon

    sys.exit(daemon.run(config, once=once, log_level=log_level))


@command(cli, "demo", config=False)
@click.option("--folder", default=None, metavar="DIR", help="Where to put the demo database (default: a temp folder).")
def demo_cmd(_config_path, folder):
    """The TUI on a fresh demo database and local sinks."""
    import tempfile

    from .. import demo

    path = demo.prepare(folder or tempfile.mkdtemp(prefix="clinicast-demo-"))
    click.echo(f"demo config: {path}", err=True)
    app = importlib.import_module("tui.app")
    sys.exit(app.run(str(path)))
