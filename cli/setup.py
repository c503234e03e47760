"""`clinicast init`, `config check`, `status`, `daemon`, `demo`."""

from __future__ import annotations

import os
import sys

import click

from cli.base import cli, command, emit, need_terminal, open_tui
from core.config.types import Config
from core.i18n import _


@command(cli, "init", db=False, user=False)
def init_cmd(config: Config):
    """Create or migrate the database."""
    from core import db as dbmod
    from core import dbfiles
    from core.context import for_service_or_admin

    path = dbfiles.sqlite_path(config.database.url)
    if path is None:  # PostgreSQL: the schema's owner is known once connected
        dbmod.bind(config.database.url)
    for_service_or_admin(config)  # the service account needs no [users] entry (SPEC §13)
    if path is not None:
        dbfiles.prepare_folder(path, config.database.group)
        dbmod.bind(config.database.url, config.database.group)
    before, after = dbmod.migrate()
    if path is not None:
        dbmod.database.close()
        dbfiles.prepare_folder(path, config.database.group)  # the new files: 0660 in the group
        dbfiles.hand_over(path, config.database.group)
    if before == after:
        click.echo(f"database is up to date (schema version {after})")
    else:
        click.echo(f"database migrated from schema version {before} to {after}")


@cli.group("config")
def config_group():
    """Configuration checks."""


@command(config_group, "check", db=False, user=False)
def config_check(config: Config):
    """Validate the config file, reach the database, say what this user can read.

    Anyone may run it (SPEC §13): it shows no secret. Exit 1 when the database cannot
    be opened or the service account cannot read what it needs to send."""
    from core import db as dbmod
    from core import status
    from core.context import is_service_account, login_name
    from core.errors import ClinicastError

    ok = True
    try:
        dbmod.bind_to_look(config.database.url, config.database.group)  # a check only looks (SPEC §13)
        dbmod.check_schema()
        db_state = f"schema version {dbmod.schema_version()}"
    except ClinicastError as e:
        db_state, ok = str(e), False
    except Exception as e:  # noqa: BLE001 - a driver error: in words, and the check goes on
        db_state, ok = str(dbmod.explain(e)), False
    secret_lines, can_send = status.readable_report(config)
    ok = ok and can_send
    login = login_name()
    if os.geteuid() == 0:
        role = _(
            "may run init and the daemon; clinicast itself is administered by a login under [users] "
            'with "admin", or by the service account'
        )
    elif is_service_account(config):
        role = "the service account (may run init and the daemon)"
    elif login in config.users:
        role = "a clinicast user: " + ", ".join(sorted(config.users[login].permissions))
    else:
        role = f"not a clinicast user (no [users.{login}])"
    from core.config.checks import email_problems

    click.echo(f"{config.path}: {'ok' if ok and not email_problems(config) else 'problems'}")
    click.echo(f"  you: {login}, {role}")
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
    for line in secret_lines:
        click.echo(f"  secrets: {line}")
    from core.config.checks import email_problems
    from core.dbfiles import open_to_others

    for found in open_to_others(config):  # patient data any user of the host can read
        click.echo("  " + _("warning: {line}").format(line=found.words()))
    lacking = email_problems(config)
    for line in lacking:
        click.echo(f"  email cannot be sent: {line}")
    if lacking:
        sys.exit(2)  # the config itself lacks keys
    if not ok:
        sys.exit(1)


@command(cli, "status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status_cmd(ctx, as_json):
    """Schema version, counts, live daemons, deliveries due/retrying/failed."""
    from core import status

    data = status.overview(ctx)
    if as_json:
        return emit(data)
    click.echo(status.format_overview(data))


@command(cli, "daemon", db=False, user=False)
@click.option("--once", is_flag=True, help="Do everything due now, wait for it, and exit.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def daemon_cmd(config: Config, once, log_level):
    """Headless scheduler and dispatcher."""
    from core.scheduling import daemon

    sys.exit(daemon.run(config, once=once, log_level=log_level))


@command(cli, "demo", config=False)
@click.option("--folder", default=None, metavar="DIR", help="Where to put the demo database (default: a temp folder).")
def demo_cmd(_config_path, folder):
    """The TUI on a fresh demo database and local sinks."""
    import tempfile

    from core import demo

    need_terminal()  # before a demo world is made for nobody to see
    path = demo.prepare(folder or tempfile.mkdtemp(prefix="clinicast-demo-"))
    click.echo(f"demo config: {path}", err=True)
    open_tui(str(path))
