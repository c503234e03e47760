"""An operating system error in the words of the language in use (SPEC §12).

`e.strerror` is the C library's English ("No such file or directory") whatever the staff
member reads; the common ones are said here, the others keep the system's words.
"""

from __future__ import annotations

import errno

from core.i18n import N_, _

WORDS = {
    errno.ENOENT: N_("no such file or folder"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("operation not permitted"),
    errno.EISDIR: N_("is a folder, not a file"),
    errno.ENOTDIR: N_("a part of the path is not a folder"),
    errno.EEXIST: N_("already exists"),
    errno.ENOSPC: N_("no space left on the device"),
    errno.EROFS: N_("read-only file system"),
    errno.ELOOP: N_("too many levels of symbolic links"),
    errno.ENAMETOOLONG: N_("file name too long"),
    errno.EMFILE: N_("too many open files"),
    errno.ECONNREFUSED: N_("connection refused"),
    errno.ETIMEDOUT: N_("timed out"),
}


ENGLISH = frozenset(WORDS.values())  # as stored (core.reasons.said says them again)


def words(e: OSError, *, english: bool = False) -> str:
    """What went wrong, without the file name (the caller says which file); `english`:
    the untranslated words, for a detail stored in English (core.reasons.Detail)."""
    known = WORDS.get(e.errno) if e.errno is not None else None
    if known:
        return known if english else _(known)
    return str(e.strerror or e)


__all__ = ["words"]
