"""Whether another account of this host may read a file, as the kernel would decide it:
every folder on the way must let it through (search, `x`), and the file let it read,
each by its owner, group and mode and by its POSIX ACL when it has one.

From the file's mode alone, root's `config check` said the service account could read a
token kept in a 0700 folder of root's (the daemon then could not), and the reverse for a
file opened to it by `setfacl -m u:clinicast:r`. Nothing is opened or read here: only
`stat` and the ACL's extended attribute, which any account that may reach the file sees.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

# linux/posix_acl_xattr.h: a 4-byte version (2), then entries of (tag u16, perm u16, id u32)
_ACL_ATTR = "system.posix_acl_access"
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def _acl(path: str) -> list[tuple[int, int, int]] | None:
    """The ACL's entries (tag, perm, id), None when the file has none beyond its mode."""
    try:
        raw = os.getxattr(path, _ACL_ATTR)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise
    if len(raw) < 4 or struct.unpack_from("<I", raw)[0] != 2:
        return None
    return [struct.unpack_from("<HHI", raw, off) for off in range(4, len(raw) - 7, 8)]


def allows(uid: int, gids: frozenset[int], path: str, want: int) -> bool:
    """Whether `uid` (a member of `gids`) has the permissions `want` (4 read, 1 search)
    on `path`, itself (a symbolic link is followed): POSIX.1e's order, owner, named
    users, groups (masked), others."""
    st = os.stat(path)
    if uid == 0:
        return True
    mode = stat.S_IMODE(st.st_mode)
    entries = _acl(path)
    if entries is None:
        if uid == st.st_uid:
            bits = mode >> 6
        elif st.st_gid in gids:
            bits = mode >> 3
        else:
            bits = mode
        return bits & want == want
    if uid == st.st_uid:
        return (mode >> 6) & want == want
    mask = next((p for t, p, _i in entries if t == _MASK), 7)
    for tag, perm, who in entries:
        if tag == _USER and who == uid:
            return perm & mask & want == want
    groups = [p for t, p, i in entries if (t == _GROUP_OBJ and st.st_gid in gids) or (t == _GROUP and i in gids)]
    if groups:
        return any(p & mask & want == want for p in groups)
    return next((p for t, p, _i in entries if t == _OTHER), mode & 7) & want == want


def closed_on_the_way(uid: int, gids: frozenset[int], path: str | Path) -> Path | None:
    """The first folder on the way to `path` that `uid` may not go through, or `path`
    itself when it may not read it; None when it may read it. Raises OSError when this
    process cannot look (a folder closed to it too)."""
    written = Path(os.path.abspath(path))
    real = Path(os.path.realpath(written))
    seen: set[Path] = set()
    for target in dict.fromkeys((written, real)):
        for folder in reversed(target.parents):
            if folder in seen:
                continue
            seen.add(folder)
            if not allows(uid, gids, str(folder), 1):
                return folder
    return None if allows(uid, gids, str(real), 4) else written


__all__ = ["allows", "closed_on_the_way"]
