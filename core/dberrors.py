"""Database errors in words (SPEC §13): `explain()` turns a driver error (locked, read-only,
full, not a database, a server that refuses) into a DatabaseError of the right kind, one
line with what to do; a permission problem is never reported as an unreachable server
(core.dbfiles names the SQLite file or folder that locks someone out, with its fix)."""

from __future__ import annotations

import re
import shlex

from core import pgurl
from core.dbfiles import BUSY_SECONDS, check_access, me, sqlite_path
from core.errors import DatabaseError, DatabaseProblem
from core.i18n import _
from core.textcheck import quoted_value

_SQLITE = [
    (("database is locked", "database table is locked"), DatabaseProblem.LOCKED),
    (("database or disk is full", "disk i/o error"), DatabaseProblem.FULL),
    (("readonly database", "unable to open database file", "read-only"), DatabaseProblem.NOT_WRITABLE),
    (("not a database", "malformed", "file is encrypted"), DatabaseProblem.INVALID),
]
_PG_PERMISSION = (
    "password authentication failed",
    "peer authentication failed",
    "ident authentication failed",
    "permission denied",
    "no pg_hba.conf entry",
    "must be owner",
    "role ",
)
_PG_FULL = ("no space left", "could not extend file", "disk full")
_PG_LOCKED = ("lock timeout", "could not obtain lock", "deadlock detected")


def _root_cause(exc: BaseException) -> BaseException:
    """A failed rollback ("cannot rollback - no transaction is active") hides the error
    that made it roll back: find that one."""
    seen = exc
    while "cannot rollback" in str(seen).lower() or "cannot commit" in str(seen).lower():
        nxt = seen.__context__ or seen.__cause__
        if nxt is None:
            break
        seen = nxt
    return seen


_PG_NO_DATABASE = re.compile(r'database "((?:[^"]|"")*)" does not exist')


def _missing_database(cause: BaseException, text: str, url: str) -> DatabaseError | None:
    """A server that answered "FATAL: database "x" does not exist": say how to make it."""
    chain = (cause, cause.__cause__, cause.__context__)
    codes = {getattr(e, "sqlstate", None) or getattr(e, "pgcode", None) for e in chain}
    found = _PG_NO_DATABASE.search(text)
    if found is None and "3D000" not in codes:
        return None
    params = pgurl.params(url)
    name = found.group(1).replace('""', '"') if found else params.get("dbname", "")
    role = params.get("user") or me()
    return DatabaseError(
        _(
            "the PostgreSQL server has no database {name}: create it as its administrator "
            "(`createdb -O {role} {command_name}`, then the README's SQL for PostgreSQL) or fix the name in "
            "[database] url"
        ).format(name=quoted_value(name), role=shlex.quote(role), command_name=shlex.quote(name)),
        DatabaseProblem.UNREACHABLE,
    )


_PG_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")


_PG_NO_ROLE = re.compile(r'role "((?:[^"]|"")*)" does not exist')


def _refused_role(text: str, url: str) -> DatabaseError | None:
    """A wrong password, or a role let into the schema but not its tables (the README's
    GRANTs not run for it): said of the role the URL names, with its fix — never of the
    OS user, nor "grant access" for a password."""
    import os

    low = text.lower()
    params = pgurl.params(url)
    role = params.get("user") or me()
    missing = _PG_NO_ROLE.search(text)
    if missing is not None:
        role = missing.group(1).replace('""', '"')
        said = _(
            "the PostgreSQL server has no role {role}: its administrator creates it (CREATE ROLE {role} LOGIN, "
            "then the README's SQL for PostgreSQL), or [database] url names another"
        ).format(role=role)
        if os.geteuid() == 0 and role == me():  # the README has root run `config check`
            said = _(
                "the PostgreSQL server has no role root, and root needs none (root is not a clinicast user): "
                "run this check as the service account and as a staff member too "
                "(runuser -u ACCOUNT -- clinicast config check)"
            )
        return DatabaseError(said, DatabaseProblem.NOT_WRITABLE)
    if "password authentication failed" in low:
        return DatabaseError(
            _(
                "the PostgreSQL server refused the password of the role {role} (or has no such role): fix the "
                "password in [database] url (a / ? # @ % or : in it percent-encoded), or have its administrator set "
                "it to match (ALTER ROLE {role} PASSWORD '…'; CREATE ROLE if there is none)"
            ).format(role=role),
            DatabaseProblem.NOT_WRITABLE,
        )
    # the audit trail's UPDATE/DELETE are refused to staff on purpose: not a grant to add
    if re.search(r"permission denied for (table|sequence|relation)", low) and "audit_log" not in low:
        found = _PG_SEARCH_PATH.search(params.get("options", ""))
        schema = found.group(1).strip('"') if found else "public"
        return DatabaseError(
            _(
                "the role {role} may not use clinicast's tables: the schema's owner runs the README's SQL for "
                "PostgreSQL for it (GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}, "
                "and the lines after it), again after each upgrade"
            ).format(role=role, schema=schema),
            DatabaseProblem.NOT_WRITABLE,
        )
    return None


def explain(exc: BaseException, url: str, group: str = "") -> DatabaseError:
    """The DatabaseError a driver error means, one line with what to do."""
    if isinstance(exc, DatabaseError):
        return exc
    cause = _root_cause(exc)
    text = " ".join(str(cause).split()) or type(cause).__name__
    low = text.lower()
    path = sqlite_path(url)
    if path is not None:
        kind = next((k for words, k in _SQLITE if any(w in low for w in words)), None)
        if kind is DatabaseProblem.LOCKED:
            return DatabaseError(
                _(
                    "the database {path} is locked: another clinicast process has held its write lock for over "
                    "{seconds} s; nothing was changed — try again in a moment (`fuser {path}` shows who holds it)"
                ).format(path=path, seconds=BUSY_SECONDS),
                kind,
            )
        if kind is DatabaseProblem.FULL:
            return DatabaseError(
                _(
                    "the disk holding {path} is full or failing ({error}); nothing was changed — free some space "
                    "(`df -h {folder}`) and try again"
                ).format(path=path, error=text, folder=path.parent),
                kind,
            )
        if kind is DatabaseProblem.NOT_WRITABLE:
            try:
                check_access(path, group)
            except DatabaseError as named:
                return named
            return DatabaseError(
                _(
                    "{me} cannot write the database {path} ({error}): the file, its folder or the disk is read-only; "
                    "check `ls -l {folder}` and `findmnt -T {folder}`"
                ).format(me=me(), path=path, error=text, folder=path.parent),
                kind,
            )
        if kind is DatabaseProblem.INVALID:
            return DatabaseError(
                _(
                    "{path} is not a clinicast database (not a SQLite file, or damaged: {error}); "
                    "check [database] url, or restore it from a backup"
                ).format(path=path, error=text),
                kind,
            )
        return DatabaseError(
            _("the database {path}: {error}").format(path=path, error=text), DatabaseProblem.UNREACHABLE
        )
    # PostgreSQL: the server answered that the database is not there (SQLSTATE 3D000; at
    # connection psycopg gives no code, only the server's words)
    missing = _missing_database(cause, text, url)
    if missing is not None:
        return missing
    # PostgreSQL: a refusal because of who we are is a permission problem, not a dead server
    refused = _refused_role(text, url)
    if refused is not None:
        return refused
    if any(w in low for w in _PG_PERMISSION):
        return DatabaseError(
            _(
                "the PostgreSQL server refused {me}: {error}; an administrator must grant this user's role access "
                "(pg_hba.conf, GRANT) or fix [database] url"
            ).format(me=me(), error=text),
            DatabaseProblem.NOT_WRITABLE,
        )
    if any(w in low for w in _PG_FULL):
        return DatabaseError(
            _("the PostgreSQL server's disk is full: {error}; nothing was changed").format(error=text),
            DatabaseProblem.FULL,
        )
    if any(w in low for w in _PG_LOCKED):
        return DatabaseError(
            _("the database is locked: {error}; nothing was changed — try again").format(error=text),
            DatabaseProblem.LOCKED,
        )
    return DatabaseError(
        _("the database server does not answer: {error}; check [database] url and that PostgreSQL is running").format(
            error=text
        ),
        DatabaseProblem.UNREACHABLE,
    )


__all__ = ["explain"]
