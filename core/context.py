"""Who is acting, under which config, at what time: passed to every core function.

The login name comes from the operating system's user database for the process's
effective user — never from USER/LOGNAME, which anyone can set.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from core.config.types import Config, User
from core.dbfiles import me as login_name  # this process's login: one definition
from core.enums import Permission
from core.errors import PermissionDenied, UnknownUser
from core.i18n import _
from core.models import utcnow
from core.textcheck import quoted_value


@dataclass
class Ctx:
    config: Config
    user: User
    clock: Callable[[], datetime] = field(default=utcnow)

    def now(self) -> datetime:
        """Naive UTC."""
        return self.clock()

    def today(self) -> date:
        """Today in the clinic's time zone."""
        return self.now().replace(tzinfo=UTC).astimezone(self.config.clinic.tz).date()

    def holds(self, permission: Permission) -> bool:
        """Whether the user holds `permission` (admin implies campaigns)."""
        perms = self.user.permissions
        return permission in perms or Permission.ADMIN in perms

    def require(self, permission: Permission) -> None:
        """Refuse unless the user holds `permission`."""
        if self.holds(permission):
            return
        raise PermissionDenied(
            _(
                "{login} lacks the '{permission}' permission (ask an administrator to add it under [users.{login}])"
            ).format(login=self.user.login, permission=permission)
        )


def is_service_account(config: Config) -> bool:
    """The account the daemon runs as (SPEC §13): root, the owner of the SQLite database
    or of its folder; on PostgreSQL (bound first), the role owning the schema, or the
    login named like the URL's role. It may run `init` and the daemon without a [users]
    entry."""
    from core import pgurl
    from core.dbfiles import sqlite_path

    if os.geteuid() == 0:
        return True
    path = sqlite_path(config.database.url)
    if path is not None:
        uids = set()
        for p in (path, path.parent):
            try:
                uids.add(p.stat().st_uid)
            except OSError:
                pass
        return os.geteuid() in uids
    if pgurl.params(config.database.url).get("user", "") == login_name():
        return True
    from core.models import database

    if database.obj is None:
        return False
    try:  # the role that owns the schema clinicast lives in: who ran `init`
        row = database.execute_sql(
            "SELECT n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
            "FROM pg_namespace n WHERE n.nspname = current_schema()"
        ).fetchone()
    except Exception:  # noqa: BLE001 - refused or unreachable: not known as the service account
        row = None
    database.close()
    return bool(row and row[0])


def for_service_or_admin(config: Config, clock: Callable[[], datetime] = utcnow) -> Ctx:
    """The service account acting as the system, else a staff member who is an admin;
    anyone else is refused (init, the daemon)."""
    if is_service_account(config):
        return _service_ctx(config, clock)
    ctx = for_current_user(config, clock)
    ctx.require(Permission.ADMIN)
    return ctx


def _service_ctx(config: Config, clock: Callable[[], datetime]) -> Ctx:
    login = login_name()
    user = config.users.get(login) or User(
        login, _("{login} (service account)").format(login=login), frozenset({"admin"})
    )
    return _opened(Ctx(config, user, clock))


def _opened(ctx: Ctx) -> Ctx:
    """A session opens: its clock says which year the short dates leave out (core.formats)."""
    from core import formats

    formats.follow_clock(ctx.clock)
    return ctx


def for_current_user(config: Config, clock: Callable[[], datetime] = utcnow) -> Ctx:
    """The Ctx of whoever runs this process; refused when they are not in [users]."""
    login = login_name()
    user = config.users.get(login)
    if user is None:
        if os.geteuid() == 0 and login == pwd.getpwuid(0).pw_name:
            raise UnknownUser(root_refusal(config))
        if os.geteuid() != 0 and is_service_account(config):  # administers without a [users] entry (SPEC §13)
            return _service_ctx(config, clock)
        if config.path:
            said = _("user {login} is not a clinicast user: an administrator must add [users.{name}] in {path}")
        else:
            said = _("user {login} is not a clinicast user: an administrator must add [users.{name}]")
        raise UnknownUser(said.format(login=quoted_value(login), name=login, path=config.path))
    return _opened(Ctx(config, user, clock))


def root_refusal(config: Config) -> str:
    """Why root is not a clinicast user, and who administers instead (SPEC §13): a
    staff login listed with "admin", or the service account."""
    from core.dbfiles import owner, sqlite_path

    service = "clinicast"
    path = sqlite_path(config.database.url)
    uid = owner(path) if path is not None else None
    if uid:
        try:
            service = pwd.getpwuid(uid).pw_name
        except KeyError:
            pass
    return _(
        "root is not a clinicast user: every change is audited under a person's login, so clinicast is "
        'administered by a login listed under [users] with permissions = ["admin"] (add yours in {config} and '
        "run it as yourself), or by the service account: runuser -u {service} -- clinicast ..."
    ).format(config=config.path or "/etc/clinicast/config.toml", service=service)
