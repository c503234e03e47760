"""The errors every core function raises; the CLI maps them to exit codes, the TUI
shows their one-line message where the eye is and picks its advice by `kind`.

    ClinicastError            exit 1
    ├── BadInput              exit 2: bad usage or input, nothing changed
    │   ├── NotFound
    │   ├── MissingFile       a file to read is not there
    │   └── ConfigError       kind "no_config" or "bad_config"
    ├── Refused               exit 1: a rule forbids it (permission, limit, window)
    │   ├── PermissionDenied
    │   └── UnknownUser       the login is not under [users]
    └── DatabaseError         exit 1, kind: see DatabaseProblem
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from core.i18n import _
from core.textcheck import visible


class ClinicastError(Exception):
    exit_code = 1
    kind = "error"


class BadInput(ClinicastError):
    """Bad usage or bad input (a file, a value, an unknown id): exit status 2, nothing changed."""

    exit_code = 2
    kind = "bad_input"


class Refused(ClinicastError):
    """A rule forbids the action (permission, limit, window): exit status 1, nothing changed."""

    exit_code = 1
    kind = "refused"


class PermissionDenied(Refused):
    kind = "permission"


class UnknownUser(PermissionDenied):
    """The process's login is not a clinicast user."""

    kind = "unknown_user"


class NotFound(BadInput):
    kind = "not_found"


class MissingFile(BadInput):
    """A file to read is not there; `path` as it was given (over SSH the command line can
    then say how a file on the staff member's computer comes through the connection)."""

    kind = "missing_file"

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


class ConfigError(BadInput):
    """A config file that cannot be used; str() is one line per problem, each naming the
    file and the key. `kind` is "no_config" when no file was found at all."""

    def __init__(self, path: Path | str | None, problems: list[str], kind: str = "bad_config"):
        self.path = Path(path) if path else None
        # one line each whatever a key or value held (a key "\r" must not break the line)
        self.problems = [visible(p, limit=len(p)) for p in problems]
        self.kind = kind if path or kind != "bad_config" else "no_config"
        lines = [_("{path}: {problem}").format(path=self.path, problem=p) for p in self.problems]
        super().__init__("\n".join(lines if self.path else self.problems))

    def by_key(self) -> list[tuple[str, str]]:
        """Each problem as (key path, what is wrong), for a log that keeps them apart (the
        daemon's `key=… problem=…`): every problem about a key begins with its path and
        the language's colon (`email.max_per_minute: expected…`, « … : » in French);
        one that names no key (a TOML syntax error, no such file) has key ""."""
        out = []
        for p in self.problems:
            m = _KEYED.fullmatch(p)
            out.append((m["key"], m["what"]) if m else ("", p))
        return out


# a config problem's leading key path (core.config: `{key}: …`, French `{key} : …`)
_KEYED = re.compile(r"(?P<key>[A-Za-z_][\w-]*(?:\.[^\s:.]+)*)[ \u00a0\u202f]?:[ \u00a0]+(?P<what>.+)", re.S)


class DatabaseProblem(StrEnum):
    EMPTY = "empty"  # never initialised: run `clinicast init`
    BEHIND = "behind"  # an older schema: run `clinicast init`
    NEWER = "newer"  # a newer schema: upgrade clinicast
    UNREACHABLE = "unreachable"  # the server does not answer, or the URL is wrong
    NOT_WRITABLE = "not_writable"  # read-only file or folder, or permissions: says the fix
    LOCKED = "locked"  # another process holds the write lock too long
    FULL = "full"  # the disk is full
    INVALID = "invalid"  # not a clinicast database (another file, a corrupt one)


class DatabaseError(ClinicastError):
    """The database cannot be used as it is; one line saying what to do."""

    def __init__(self, message: str, kind: DatabaseProblem | str = DatabaseProblem.UNREACHABLE):
        super().__init__(message)
        self.kind = DatabaseProblem(kind)
