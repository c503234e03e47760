"""Who can read the config file: the staff group (deploy/install.sh makes it root:STAFF,
0640). A staff login outside that group met "cannot read: permission denied" and no fix;
these say whose file it is and the command that lets them in. `setup_warnings` is what
`config check` says of the host around the file: who may change it, which accounts
cannot read it or reach the database, which [users] logins this host has not."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from core.config.secrets import Account, account
from core.dbfiles import group_name, me, user_name
from core.i18n import _


def cannot_read(path: Path) -> str | None:
    """Why this process may not read `path`, with the fix, or None when permissions are
    not the reason. The user's language is the host's: the file says none when unread."""
    try:
        st = os.stat(path)
    except PermissionError:  # a folder on the way is closed to this process
        return _closed_folder_words(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):  # a FIFO's open would wait for a writer: infile's words say it
        return None
    try:
        with open(path, "rb"):  # as this process's effective user and groups
            return None
    except PermissionError:
        pass
    except OSError:
        return None
    if st.st_uid == os.geteuid():  # their own file, its mode closed to themselves too: chmod's words
        return None
    login = me()
    owner, group, mode = user_name(st.st_uid), group_name(st.st_gid), stat.S_IMODE(st.st_mode)
    if not mode & stat.S_IRGRP:
        return _(
            "cannot read: permission denied; it belongs to {owner}:{group} (mode {mode:04o}) and only {owner} "
            "may read it: an administrator gives the staff group read access (chgrp STAFF_GROUP {path}; "
            "chmod 0640 {path})"
        ).format(owner=owner, group=group, mode=mode, path=path)
    found = account(login)
    if (
        found is not None and st.st_gid in found.gids
    ):  # in the group, but not in this session: it was added after the login
        return _(
            "cannot read: permission denied; it belongs to {owner}:{group} (mode {mode:04o}) and {login} was added "
            "to the group {group} after this session began: log out and log in again"
        ).format(owner=owner, group=group, mode=mode, login=login)
    return _(
        "cannot read: permission denied; it belongs to {owner}:{group} (mode {mode:04o}) and {login} is not in "
        "the group {group}: an administrator runs `usermod -aG {group} {login}`, then {login} logs in again"
    ).format(owner=owner, group=group, mode=mode, login=login)


def _closed_folder_words(path: Path) -> str | None:
    """The first folder on the way to `path` this process may not go through, said with
    the fix (the daemon's log said "permission denied" and nothing else)."""
    for folder in reversed(Path(os.path.abspath(path)).parents):
        if os.access(folder, os.X_OK, effective_ids=os.access in os.supports_effective_ids):
            continue
        try:
            st = os.stat(folder)
        except OSError:
            return None
        return _(
            "cannot read: permission denied; {login} cannot go through the folder {folder} ({owner}:{group}, mode "
            "{mode:04o}): an administrator moves the file to a folder {login} can go through, or runs "
            "chmod o+x {folder}"
        ).format(
            login=me(),
            folder=folder,
            owner=user_name(st.st_uid),
            group=group_name(st.st_gid),
            mode=stat.S_IMODE(st.st_mode),
        )
    return None


def login_cannot_read(path: Path, login: str) -> str | None:
    """For `config check`: the warning when `login` (an account of this host) could not
    read the config file (a folder on the way closed to them, or not in its group), else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    found = account(login)
    folder = closed_folder(found, path) if found is not None else None
    if folder is not None:
        return _(
            "users.{login}: {login} cannot go through the folder {folder} to read {path}, so clinicast cannot "
            "start for them; move the config to a folder they can go through, or run chmod o+x {folder}"
        ).format(login=login, folder=folder, path=path)
    mode = stat.S_IMODE(st.st_mode)
    if found is None or found.uid in (0, st.st_uid) or mode & stat.S_IROTH or not mode & stat.S_IRGRP:
        return None
    if st.st_gid in found.gids:
        return None
    group = group_name(st.st_gid)
    return _(
        "users.{login}: {login} is not in the group {group} that can read {path}, so clinicast cannot start for "
        "them; run usermod -aG {group} {login} (then {login} logs in again)"
    ).format(login=login, group=group, path=path)


def closed_folder(found: Account, path: Path) -> Path | None:
    """The first folder on the way to `path` that `found` may not go through, None when
    there is none or this process cannot look."""
    try:
        where = found.closed(path)
    except OSError:
        return None
    return where if where is not None and where != Path(os.path.abspath(path)) else None


def service_cannot_read(config) -> str | None:
    """For `config check` run by root or a staff member: the problem when the service
    account (which runs `init` and the daemon) could not read the config file, else None."""
    from core.config.secrets import service_account

    path = config.path
    found = service_account(config) if path is not None else None
    if found is None or found.uid == os.geteuid():
        return None
    try:
        where = found.closed(path)
    except OSError:
        return None
    if where is None:
        return None
    if where != Path(os.path.abspath(path)):
        return _(
            "{login}, the account that runs the daemon, cannot go through the folder {folder} to read {path}, so "
            "the daemon cannot start; move the config to a folder it can go through, or run as root: "
            "chmod o+x {folder}"
        ).format(login=found.login, folder=where, path=path)
    st = os.stat(path)
    owner, group, mode = user_name(st.st_uid), group_name(st.st_gid), stat.S_IMODE(st.st_mode)
    if mode & stat.S_IRGRP and st.st_gid not in found.gids:  # the file is right: the account is not in its group
        return _(
            "{login}, the account that runs the daemon, cannot read {path} ({owner}:{group}, mode {mode:04o}), so "
            "the daemon cannot start; {login} is not in the group {group}: run as root: usermod -aG {group} {login}"
        ).format(login=found.login, path=path, owner=owner, group=group, mode=mode)
    return _(
        "{login}, the account that runs the daemon, cannot read {path} ({owner}:{group}, mode {mode:04o}), so the "
        "daemon cannot start; run as root: chgrp STAFF_GROUP {path} && chmod 0640 {path}"
    ).format(login=found.login, path=path, owner=owner, group=group, mode=mode)


def database_closed(config) -> tuple[list[str], list[str]]:
    """For `config check` run by root (or anyone who can look): (problems, warnings) when
    the service account or a [users] login could not go through a folder above the
    SQLite database's folder. Root's check said ok, then the daemon and every staff
    member were refused."""
    from core.config.secrets import service_account
    from core.dbfiles import sqlite_path

    path = sqlite_path(config.database.url)
    if path is None:
        return [], []
    folder = Path(os.path.abspath(path)).parent
    problems, warnings = [], []
    service = service_account(config)
    if service is not None and service.uid != os.geteuid():
        where = closed_folder(service, folder)
        if where is not None:
            problems.append(
                _(
                    "{login}, the account that runs the daemon, cannot go through the folder {folder} to reach the "
                    "database {path}, so the daemon cannot start; run as root: chmod o+x {folder}"
                ).format(login=service.login, folder=where, path=path)
            )
    for login in sorted(config.users):
        found = account(login)
        if found is None or found.uid == os.geteuid():
            continue
        where = closed_folder(found, folder)
        if where is not None:
            warnings.append(
                _(
                    "users.{login}: {login} cannot go through the folder {folder} to reach the database {path}, so "
                    "clinicast cannot start for them; run as root: chmod o+x {folder}"
                ).format(login=login, folder=where, path=path)
            )
    return problems, warnings


def setup_warnings(config) -> tuple[list[str], list[str]]:
    """What `config check` says of the host's setup around the file: (problems, warnings).
    Problems: the config can be changed by every user of the host (anyone could give
    themselves "admin"), the service account cannot read it (`service_cannot_read`) or
    reach the SQLite database (`database_closed`). Warnings: a `[users]` login with no
    account on this host (a typo, or a login of another host sharing a PostgreSQL
    database), or one that cannot read the file (`login_cannot_read`) or reach the
    database. The file's own values warn in core.config.checks.value_warnings."""
    problems: list[str] = []
    warnings: list[str] = []
    if config.path is not None:
        try:
            mode = stat.S_IMODE(os.stat(config.path).st_mode)
        except OSError:
            mode = 0
        if mode & 0o002:
            problems.append(
                _(
                    "{path} can be changed by every user of this host (mode {mode:04o}): anyone could make "
                    "themselves an administrator; run chmod o-w {path}"
                ).format(path=config.path, mode=mode)
            )
        daemon = service_cannot_read(config)  # root's or a staff member's check: can the daemon?
        if daemon:
            problems.append(daemon)
    closed, unreachable = database_closed(config)
    problems += closed
    warnings += unreachable
    for login in sorted(config.users):
        try:
            pwd.getpwnam(login)
        except KeyError:
            warnings.append(
                _("users.{login}: there is no login {login} on this host (a typo, or a login of another host)").format(
                    login=login
                )
            )
            continue
        if config.path is not None:
            outside = login_cannot_read(config.path, login)
            if outside:
                warnings.append(outside)
    return problems, warnings


__all__ = [
    "cannot_read",
    "closed_folder",
    "database_closed",
    "login_cannot_read",
    "service_cannot_read",
    "setup_warnings",
]
