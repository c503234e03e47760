"""The SQLite database's files on a shared server (SPEC §13); a driver's errors in words: core.dberrors.

- `UMASK` (007) is set by every clinicast process before it opens the database, so a
  file it creates (database, WAL/SHM, maildir messages, logs, exports) is never
  world-readable and always writable by the group.
- `prepare_folder()` (for `clinicast init`): the folder setgid, group-writable, owned by
  `[database] group`; the database files 0660 in that group.
- `check_access()` before each open: a folder or file (database, `-wal`, `-shm`) that
  would lock this user, or with a group set anyone in it, out is named with its owner
  and the exact `chgrp`/`chmod` that fixes it — before SQLite says "unable to open
  database file" naming nothing.
- `hand_over()` after root's `init`: the files it made go to the folder's owner (the
  service account) and the group.
- `open_to_others()`: the database, WAL, maildir and gateway-log files any user of the
  host can read, each with its `chmod` (`config check`, `status`, the daemon's log).
- `sqlite_path(url)`: the SQLite file a database URL names, read once for the connection
  and for every word said of it (a postgresql:// URL's parameters: core.pgurl).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInput, DatabaseError, DatabaseProblem
from core.i18n import _
from core.textcheck import quoted_value

UMASK = 0o007
FOLDER_MODE = 0o2770  # setgid: files made inside belong to the folder's group
FILE_MODE = 0o660
SUFFIXES = ("", "-wal", "-shm")
BUSY_SECONDS = 10  # SQLite's busy_timeout (core.db)


def set_umask() -> None:
    """Files this process creates are never world-readable, always group-writable."""
    os.umask(UMASK)


def sqlite_path(url: str) -> Path | None:
    # sqlite:///var/x.db and sqlite:////var/x.db (SQLAlchemy's spelling) are both /var/x.db
    return Path("/" + url[len("sqlite:///") :].lstrip("/")) if url.startswith("sqlite:///") else None


def group_id(group: str) -> int | None:
    if not group:
        return None
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        # a setup problem of the host, named like the others here (exit 1)
        raise DatabaseError(
            _("[database] group: there is no group {quoted} on this host; run: groupadd {group}").format(
                quoted=quoted_value(group), group=group
            ),
            DatabaseProblem.NOT_WRITABLE,
        ) from None


def user_name(uid: int) -> str:
    """The login of `uid`, or the number when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """The name of group `gid`, or the number when it has none."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def me() -> str:
    """This process's login (its effective user's), or the uid's number when it has no
    passwd entry (a container run as a bare uid). The one definition: core.context's
    `login_name` is this."""
    return user_name(os.geteuid())


def describe(p: Path, st: os.stat_result) -> str:
    return _("{path} (owner {owner}, group {group}, mode {mode})").format(
        path=p, owner=user_name(st.st_uid), group=group_name(st.st_gid), mode=f"{stat.S_IMODE(st.st_mode):04o}"
    )


def not_a_folder(db_path: Path) -> None:
    """A `[database] url` naming a folder (the database's folder, not its file) is a
    setup mistake said before anything is opened or changed (init would have given the
    folder a file's mode, 0660, and locked everyone out of it)."""
    try:
        is_dir = db_path.is_dir()
    except PermissionError:  # a folder above it closed to this user: check_access names it
        return
    if is_dir:
        raise BadInput(
            _("[database] url: {path} is a folder; name the database file in it, such as {example}").format(
                path=db_path, example=db_path / "clinicast.db"
            )
        )


def prepare_folder(db_path: Path, group: str) -> None:
    """`clinicast init`: create the folder (setgid, 2770, in `group`) and give the files
    that exist 0660 in `group`. Only what this user owns (or root) is changed; the rest
    is left to check_access() to name."""
    not_a_folder(db_path)
    set_umask()
    gid = group_id(group)
    folder = db_path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o770 if gid is None else FOLDER_MODE)
    root = os.geteuid() == 0
    # SQLite makes a database 0644 & ~umask = 0640; its WAL and SHM copy that mode: 0660
    items = [(Path(f"{db_path}{s}"), FILE_MODE) for s in SUFFIXES]
    for p, mode in items if gid is None else [(folder, FOLDER_MODE), *items]:
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if root or st.st_uid == os.geteuid():
            if gid is not None and st.st_gid != gid:
                os.chown(p, -1, gid)
            if stat.S_IMODE(st.st_mode) != mode:
                os.chmod(p, mode)


def hand_over(db_path: Path, group: str) -> None:
    """After root ran `init`: the files it made belong to the folder's owner (the service
    account, whom the daemon's owner check knows) and the group, 0660."""
    if os.geteuid() != 0:
        return
    folder = db_path.parent.stat()
    gid = group_id(group)
    for s in SUFFIXES:
        p = Path(f"{db_path}{s}")
        if p.exists():
            os.chown(p, folder.st_uid, folder.st_gid if gid is None else gid)
            os.chmod(p, FILE_MODE)


def check_access(db_path: Path, group: str = "") -> None:
    """Raise DatabaseError(NOT_WRITABLE) naming the first folder or file that locks this
    user out or, with `group`, would lock another member of it out; the fix covers all.
    A path that is a folder is a setup mistake said first (`not_a_folder`)."""
    not_a_folder(db_path)
    gid = group_id(group)
    folder = db_path.parent
    bad: list[tuple[Path, os.stat_result, int]] = []  # (path, stat, wanted mode)
    for p, is_dir in [(folder, True)] + [(Path(f"{db_path}{s}"), False) for s in SUFFIXES]:
        try:
            st = p.stat()
        except FileNotFoundError:
            if is_dir and gid is not None:  # a shared folder is made by init, never by whoever comes first
                raise DatabaseError(
                    _(
                        "the database folder {path} does not exist: run `clinicast init` as the service account or root"
                    ).format(path=p),
                    DatabaseProblem.EMPTY,
                ) from None
            if is_dir:
                return
            continue
        except PermissionError:
            closed = next((f for f in reversed(p.parents) if not os.access(f, os.X_OK)), p.parent)
            said = _(
                "{me} cannot reach {path}: the folder {folder} above it is closed to them; an administrator must "
                "let them through it (chmod o+x {folder}: to go through, not to list)"
            ).format(me=me(), path=p, folder=closed)
            raise DatabaseError(said, DatabaseProblem.NOT_WRITABLE) from None
        want = FOLDER_MODE if is_dir else FILE_MODE
        need = (os.R_OK | os.W_OK | os.X_OK) if is_dir else (os.R_OK | os.W_OK)
        locked_me = not os.access(p, need)
        mode = stat.S_IMODE(st.st_mode)
        locks_group = gid is not None and (st.st_gid != gid or (mode & want & 0o2070) != (want & 0o2070))
        if locked_me or locks_group:
            bad.append((p, st, want))
    if not bad:
        return
    p, st, _wanted = bad[0]
    if not os.access(p, os.W_OK):
        who = _("{me} cannot write it").format(me=me())
    else:
        who = _("the others in the group cannot write it")
    if gid is None:
        raise DatabaseError(
            _(
                "{file}: {who}; to share the database, set [database] group in the config and run "
                "`clinicast init` as {owner} or root"
            ).format(file=describe(p, st), who=who, owner=user_name(st.st_uid)),
            DatabaseProblem.NOT_WRITABLE,
        )
    paths = " ".join(str(b[0]) for b in bad)
    modes = " && ".join(f"chmod {w:04o} {b}" for b, _s, w in bad)
    owners = sorted({user_name(s.st_uid) for _b, s, _w in bad} - {"root"})
    fix = f"chgrp {group} {paths} && {modes}"
    if len(owners) == 1:
        said = _("{file}: {who}; run as root or {owner}: {fix}")
    else:
        said = _("{file}: {who}; run as root: {fix}")
    raise DatabaseError(
        said.format(file=describe(p, st), who=who, owner=", ".join(owners), fix=fix), DatabaseProblem.NOT_WRITABLE
    )


MAX_SCANNED = 10_000  # files of a maildir looked at by open_to_others (a status stays quick)


@dataclass(frozen=True)
class OpenToOthers:
    """A file (or, `files` > 1, a maildir of them) every user of the host can read."""

    path: Path
    mode: int
    fix: str
    files: int = 1

    def words(self) -> str:
        if self.files > 1:
            return _("{n} files of the maildir {path} can be read by every user of this host: run {fix}").format(
                n=self.files, path=self.path, fix=self.fix
            )
        return _("{path} can be read by every user of this host (mode {mode:04o}): run {fix}").format(
            path=self.path, mode=self.mode, fix=self.fix
        )

    def to_json(self) -> dict:
        return {"path": str(self.path), "mode": f"{self.mode:04o}", "files": self.files, "fix": self.fix}


def open_to_others(config) -> list[OpenToOthers]:
    """Each database, WAL/SHM, maildir or gateway-log file (or folder) that users outside
    its owner and group can read, with the chmod that closes it (SPEC §13: a database
    left 0644 let an unlisted user read every patient). `config check`, `status` and the
    daemon's log say them; nothing is changed here."""
    found: list[tuple[Path, int, bool]] = []  # (path, mode, is a folder)

    def look(p: Path) -> None:
        try:
            st = p.lstat()
        except OSError:
            return
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o004:
            found.append((p, stat.S_IMODE(st.st_mode), stat.S_ISDIR(st.st_mode)))

    db = sqlite_path(config.database.url)
    if db is not None:
        for s in SUFFIXES:
            look(Path(f"{db}{s}"))
    maildir = Path(config.email.path) if config.email.transport == "maildir" and config.email.path else None
    if maildir is not None:
        look(maildir)
        seen = 0
        for folder, dirs, files in os.walk(maildir):
            for name in dirs + files:
                look(Path(folder) / name)
                seen += 1
            if seen >= MAX_SCANNED:
                break
    if config.gateway.transport == "log" and config.gateway.path:
        look(Path(config.gateway.path))
    in_maildir = {p for p, _m, _d in found if maildir is not None and (p == maildir or maildir in p.parents)}
    out = [
        OpenToOthers(p, mode, f"chmod {'-R ' if is_dir else ''}o-rwx {p}")
        for p, mode, is_dir in found
        if len(in_maildir) < 2 or p not in in_maildir
    ]
    if len(in_maildir) > 1 and maildir is not None:  # said once for the whole maildir
        out.append(OpenToOthers(maildir, 0, f"chmod -R o-rwx {maildir}", len(in_maildir)))
    return out


def owner(db_path: Path) -> int | None:
    """The uid owning the SQLite database (its folder before `init`): the service account."""
    for p in (db_path, db_path.parent):
        try:
            return p.stat().st_uid
        except OSError:
            continue
    return None


__all__ = ["UMASK", "check_access", "open_to_others", "owner", "prepare_folder", "set_umask", "sqlite_path"]
