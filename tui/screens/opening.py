"""Opening a session for the TUI: the config, the database and a user who may use
clinicast (core.session's steps) — or the Problem that the problem screen
(tui/screens/problem.py) shows instead: what is wrong and what to do, picked by the
error's kind. No Textual here: the app runs it in a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core import db as dbmod
from core import i18n, session
from core.context import Ctx, for_current_user
from core.enums import Permission
from core.errors import ClinicastError, ConfigError, DatabaseError, DatabaseProblem, PermissionDenied
from core.i18n import _


@dataclass
class Problem:
    title: str
    message: str
    advice: str


def open_session(config_path: str | None, clock: Callable[[], datetime], language: str | None = None) -> Ctx | Problem:
    """Config, database and a user with the "campaigns" permission (core.session's steps)
    — or a Problem saying what is wrong and what to do. Spoken in the user's language
    (core.preferences.language_for, as the command line decides it: their choice, else
    the config's), or `language` when given (the one they switched to in this session)."""
    from core import preferences
    from core.context import login_name

    config = None
    try:
        i18n.use(language or preferences.language_for(config_path, login_name()))
        config = session.load_config(config_path)
        try:
            session.connect(config)
        except ClinicastError:
            raise
        except Exception as e:  # noqa: BLE001 - a driver error, in core's words (kind and fix)
            raise dbmod.explain(e) from None
        ctx = for_current_user(config, clock)
        ctx.require(Permission.CAMPAIGNS)
        return ctx
    except ClinicastError as e:
        return problem_for(e, config_path, str(config.path) if config else config_path)


def problem_for(error: ClinicastError, config_path: str | None, config_file: str | None) -> Problem:
    """What is wrong and what to do, picked by the error's kind (never by its words)."""
    where = f" --config {config_path}" if config_path else ""
    if isinstance(error, ConfigError):
        if error.kind == "no_config":
            return Problem(
                _("No config file"),
                str(error),
                _(
                    "Create one from config.example.toml, or pass --config PATH, "
                    "then press r to try again. `clinicast demo` opens a demo."
                ),
            )
        return Problem(
            _("The config file has problems"),
            str(error),
            _(
                "Fix each line above in {path} (an administrator can run "
                "`clinicast config check{where}`), then press r to try again."
            ).format(path=error.path, where=where),
        )
    if isinstance(error, DatabaseError):
        return Problem(_("The database is not ready"), str(error), database_advice(error.kind, config_file, where))
    if isinstance(error, PermissionDenied):
        return Problem(
            _("You cannot use clinicast"),
            str(error),
            _(
                'Ask an administrator to give you the "campaigns" permission under '
                "[users.<your login>] in {path}, then press r to try again."
            ).format(path=config_file),
        )
    return Problem(_("clinicast cannot open"), str(error), _("Press r to try again."))


def database_advice(kind: str, config_path: str | None, where: str) -> str:
    """What to do, by the error's kind (core.errors.DatabaseProblem), never by its words."""
    if kind in (DatabaseProblem.EMPTY, DatabaseProblem.BEHIND):
        # the error names the command (`clinicast init`): said once, the advice adds the rest
        if not where:
            return _("An administrator must run that command; then press r to try again.")
        return _("An administrator must run that command with `{option}`; then press r to try again.").format(
            option=where.strip()
        )
    advice = {
        "newer": _("This program is older than the database: install the newer clinicast; then press r to try again."),
        "not_writable": _("Run the command above as root (or as the owner it names); then press r to try again."),
        "locked": _("Another clinicast process holds the database: wait a moment; then press r to try again."),
        "full": _("The disk is full: an administrator must free some space; then press r to try again."),
        "invalid": _(
            "Check [database] url in {path}: it does not point at a clinicast database; then press r to try again."
        ),
        "unreachable": _(
            "Check [database] url in {path} and that the database server answers; then press r to try again."
        ),
    }.get(kind, _("Check [database] in {path}; then press r to try again."))
    return advice.format(where=where, path=config_path)
