"""`clinicast init`, `config check`, `status`, `daemon`, `demo`."""

from __future__ import annotations

import os
import sys

import click

from cli.base import cli, command, emit, need_terminal, open_tui
from core.config.types import Config
from core.i18n import N_, _


@command(cli, "init", db=False, user=False, help=N_("Create or migrate the database."))
def init_cmd(config: Config):
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
        click.echo(_("database is up to date (schema version {version})").format(version=after))
    else:
        click.echo(_("database migrated from schema version {before} to {after}").format(before=before, after=after))


@cli.group("config", help=N_("Configuration checks."))
def config_group():
    pass


@command(
    config_group,
    "check",
    db=False,
    user=False,
    help=N_(
        "Validate the config file, reach the database, say what this user can read. Anyone may run it: "
        "it shows no secret. Exit 2 when sending would fail on the config (a key email needs, a secret "
        "file missing, empty or readable by others); exit 1 when the database cannot be opened or the "
        "service account cannot read what it needs to send."
    ),
)
def config_check(config: Config):
    """Anyone may run it (SPEC §13): it shows no secret."""
    from core import db as dbmod
    from core import pgurl, status
    from core.context import is_service_account, login_name
    from core.errors import ClinicastError, DatabaseError, DatabaseProblem

    ok, made, usable = True, True, True
    try:
        dbmod.bind_to_look(config.database.url, config.database.group)  # a check only looks (SPEC §13)
        dbmod.check_schema()
        db_state = _("schema version {version}").format(version=dbmod.schema_version())
    except ClinicastError as e:
        db_state, ok, usable = str(e), False, False
        made = not (isinstance(e, DatabaseError) and e.kind is DatabaseProblem.EMPTY)  # before `init`: nothing sends
    except Exception as e:  # noqa: BLE001 - a driver error: in words, and the check goes on
        db_state, ok, usable = str(dbmod.explain(e)), False, False
    secret_lines, can_send, broken_secret = status.readable_report(config, made=made, usable=usable)
    ok = ok and can_send
    login = login_name()
    if os.geteuid() == 0:
        role = _(
            "may run init and the daemon; clinicast itself is administered by a login under [users] "
            'with "admin", or by the service account'
        )
    elif is_service_account(config):
        role = _("the service account (may run init and the daemon)")
    elif login in config.users:
        # the permission words are the config file's ("campaigns", "admin"): as written there
        role = _("a clinicast user: {permissions}").format(
            permissions=", ".join(sorted(config.users[login].permissions))
        )
    else:
        role = _("not a clinicast user (no [users.{login}])").format(login=login)
    from core.config.access import setup_warnings
    from core.config.checks import email_problems, value_warnings
    from core.dbfiles import open_to_others

    lacking = email_problems(config)
    unsafe, doubtful = setup_warnings(config)
    doubtful += value_warnings(config)
    ok = ok and not unsafe
    bad_keys: list[str] = []
    if config.keys:  # [keys] names the TUI's bindings: checked against them (Textual loaded only then)
        from tui import keys

        bad_keys = keys.problems(config.keys, f"{config.path}: ")
    verdict = _("ok") if ok and not lacking and not bad_keys and not broken_secret else _("problems")
    click.echo(_("{path}: {verdict}").format(path=config.path, verdict=verdict))
    click.echo("  " + _("you: {login}, {role}").format(login=login, role=role))
    click.echo(
        "  "
        + _("clinic: {name} ({timezone}, default language {language})").format(
            name=config.clinic.name, timezone=config.clinic.timezone, language=config.clinic.default_language
        )
    )
    click.echo("  " + _("database: {url}: {state}").format(url=pgurl.redacted(config.database.url), state=db_state))
    email_target = (
        config.email.path
        if config.email.transport == "maildir"
        else f"{config.email.host}:{config.email.port} ({config.email.security})"
    )
    # transports and security are the config's own words (smtp, maildir, starttls...)
    click.echo("  " + _("email: {transport} {target}").format(transport=config.email.transport, target=email_target))
    gateway_target = config.gateway.path if config.gateway.transport == "log" else config.gateway.url
    click.echo(
        "  " + _("gateway: {transport} {target}").format(transport=config.gateway.transport, target=gateway_target)
    )
    click.echo("  " + _("users: {logins}").format(logins=", ".join(sorted(config.users)) or _("none")))
    for line in secret_lines:
        click.echo("  " + _("secrets: {line}").format(line=line))
    for line in unsafe:
        click.echo("  " + _("unsafe: {line}").format(line=line))
    for found in open_to_others(config):  # patient data any user of the host can read
        click.echo("  " + _("warning: {line}").format(line=found.words()))
    for line in doubtful:
        click.echo("  " + _("warning: {line}").format(line=line))
    for line in lacking:
        click.echo("  " + _("email cannot be sent: {line}").format(line=line))
    for line in bad_keys:
        click.echo(f"clinicast: {line}", err=True)
    if lacking or bad_keys or broken_secret:
        # the config lacks keys, names a binding wrongly, or names a secret no account can
        # send with: sending would fail on it (the sender refuses each one alike)
        sys.exit(2)
    if not ok:
        sys.exit(1)


@command(cli, "status", help=N_("Schema version, counts, live daemons, deliveries due/retrying/failed."))
@click.option(
    "--json", "as_json", is_flag=True, help=N_("Print one JSON document (the spec's English keys and codes).")
)
def status_cmd(ctx, as_json):
    from core import pace, status

    data = status.overview(ctx)
    if as_json:
        return emit(data)
    said = pace.channel_words(ctx.config, ctx.now())  # why due emails wait (SPEC §5)
    click.echo(status.format_overview(data, ctx.config.clinic.tz, pace=said))


# config=False: the daemon reads its config itself, to say a bad one in its log's form
@command(cli, "daemon", config=False, help=N_("Headless scheduler and dispatcher."))
@click.option("--once", is_flag=True, help=N_("Do everything due now, wait for it, and exit."))
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help=N_("The least important lines written to stderr."),
)
def daemon_cmd(config_path, once, log_level):
    from core.scheduling import daemon

    sys.exit(daemon.start(config_path, once=once, log_level=log_level))


@command(cli, "demo", config=False, help=N_("The TUI on a fresh demo database and local sinks."))
@click.option(
    "--folder", default=None, metavar=N_("DIR"), help=N_("Where to put the demo database (default: a temp folder).")
)
def demo_cmd(_config_path, folder):
    import tempfile

    from core import demo

    need_terminal()  # before a demo world is made for nobody to see
    path = demo.prepare(folder or tempfile.mkdtemp(prefix="clinicast-demo-"))
    click.echo(_("demo config: {path}").format(path=path), err=True)
    open_tui(str(path))
