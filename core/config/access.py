"""Who can read the config file: the staff group (deploy/install.sh makes it root:STAFF,
0640). A staff login outside that group met "cannot read: permission denied" and no fix;
these say whose file it is and the command that lets them in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.config.secrets import account
from core.dbfiles import group_name, me, user_name
from core.i18n import _


def cannot_read(path: Path) -> str | None:
    """Why this process may not read `path`, with the fix, or None when permissions are
    not the reason. The user's language is the host's: the file says none when unread."""
    try:
        st = os.stat(path)  # a folder on the way that is closed: the system's words stay
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


def login_cannot_read(path: Path, login: str) -> str | None:
    """For `config check`: the warning when `login` (an account of this host) could not
    read the config file because they are not in its group, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    found = account(login)
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


__all__ = ["cannot_read", "login_cannot_read"]
