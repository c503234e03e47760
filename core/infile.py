"""Reading an input file someone named on the command line or in a form (issue #8).

Every file clinicast reads as input — a patient directory CSV, a list of EMR ids, a
template file, the config file itself — goes through `read_bytes`: it refuses, before reading a byte, what is
not a regular file (a folder, `/dev/zero`, `/dev/urandom`, a FIFO, a socket) and a file
over the limit for its kind, each with one line naming the file. `/dev/zero` used to
end in MemoryError, a FIFO in a hang.

The file is opened with O_NONBLOCK and checked again on the open descriptor, so a FIFO
swapped in between the check and the open cannot block; at most `limit + 1` bytes are
ever read, so a file that grows meanwhile cannot exhaust memory.

`-` names the standard input wherever a file is read (SPEC §13: over SSH a staff
member's file travels through the connection, `ssh clinic recipients add 3 --csv - <
liste.csv`): read with the same bound, refused when it is a terminal (a command would
wait for typing nobody means to do; over SSH, the terminal `ssh -t` made). Over SSH, an
input that gives nothing for STDIN_WAIT seconds calls `on_stdin_wait` once (cli.ssh says
the `< liste.csv` is likely forgotten; the read goes on), and an end of input that was the
connection dropping, not the file's end, is refused: a part of a file changes nothing.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable

from core import oserrors
from core.errors import BadInput, MissingFile
from core.i18n import _

STDIN = "-"
STDIN_LABEL = "stdin"

MiB = 1024 * 1024
# over SSH, the standard input that gives nothing for this long is most likely the staff
# member's keyboard (`ssh clinic recipients add 3 --csv -`, the `< liste.csv` forgotten):
# `on_stdin_wait(what)` is called once then (cli.ssh says so in one line); the read goes on
STDIN_WAIT = 3.0
on_stdin_wait: Callable[[str], None] | None = None
# a patient directory file is read as it goes (csvio.TableStream), never whole: 1,000,000
# rows are about 200 MB (from the standard input it is read whole, within this bound)
CSV_LIMIT = 1024 * MiB
ID_LIST_LIMIT = 50 * MiB
TEMPLATE_LIMIT = 1 * MiB  # two languages of four fields of at most 64 KiB each
CONFIG_LIMIT = 1 * MiB  # config.example.toml, fully commented, is about 8 KB


def size_words(n: int) -> str:
    if n >= MiB:
        return _("{n} MB").format(n=f"{n / MiB:.0f}")
    if n >= 1024:
        return _("{n} KB").format(n=f"{n / 1024:.0f}")
    return _("{n} bytes").format(n=n)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return _("a folder")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("a device")
    if stat.S_ISFIFO(mode):
        return _("a pipe (FIFO)")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    return _("not a regular file")


def check(label: str, st: os.stat_result, limit: int, what: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(_("{where}: is {kind}, expected {what}").format(where=label, kind=_kind(st.st_mode), what=what))
    if st.st_size > limit:
        raise BadInput(
            _("{where}: is {size}; {what} may be at most {limit}").format(
                where=label, size=size_words(st.st_size), what=what, limit=size_words(limit)
            )
        )


def open_regular(path: os.PathLike | str, *, limit: int, what: str | None = None, label: str | None = None) -> int:
    """A descriptor open on a regular file of at most `limit` bytes (the caller closes
    it); BadInput (one line naming the file) for anything else. `what`: « a CSV file »,
    in the language in use (default « a file »)."""
    label = label or str(path)
    what = what or _("a file")
    try:
        check(label, os.stat(path), limit, what)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise MissingFile(_("{where}: no such file").format(where=label), str(path)) from None
    except NotADirectoryError:
        raise MissingFile(
            _("{where}: no such file (a part of the path is not a folder)").format(where=label), str(path)
        ) from None
    except OSError as e:
        raise BadInput(_("{where}: cannot read: {why}").format(where=label, why=oserrors.words(e))) from None
    try:
        check(label, os.fstat(fd), limit, what)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: os.PathLike | str, *, limit: int, what: str | None = None, label: str | None = None) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; BadInput (one line
    naming the file) for anything else."""
    what = what or _("a file")
    if str(path) == STDIN:
        return _read_stdin(limit=limit, what=what)
    label = label or str(path)
    fd = open_regular(path, limit=limit, what=what, label=label)
    try:
        return _read_bounded(fd, label, limit, what)
    finally:
        os.close(fd)


def _read_bounded(fd: int, label: str, limit: int, what: str) -> bytes:
    chunks, total = [], 0
    try:
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, 4 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as e:
        raise BadInput(_("{where}: cannot read: {why}").format(where=label, why=oserrors.words(e))) from None
    if total > limit:
        raise BadInput(
            _("{where}: is over {size}; {what} may be at most {size}").format(
                where=label, size=size_words(limit), what=what
            )
        )
    return b"".join(chunks)


def _read_stdin(*, limit: int, what: str) -> bytes:
    """`-`: the standard input (a pipe, a redirected file, an SSH channel), bounded."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        raise BadInput(_("-: there is no standard input to read {what} from").format(what=what)) from None
    if os.isatty(fd) and os.environ.get("SSH_CONNECTION"):
        # over SSH a terminal here is one `ssh -t` (or RequestTTY force) asked for: the file
        # sent with `< liste.csv` went through it as typing, and is not this input's
        raise BadInput(
            _(
                "-: reads {what} from the standard input, here the terminal ssh -t gives; "
                "send the file without -t: ... < list.csv"
            ).format(what=what)
        )
    if os.isatty(fd):
        raise BadInput(
            _("-: reads {what} from the standard input, here a terminal; send the file into it: ... < list.csv").format(
                what=what
            )
        )
    if on_stdin_wait is not None and os.environ.get("SSH_CONNECTION") and not _readable(fd, STDIN_WAIT):
        on_stdin_wait(what)
    raw = _read_bounded(fd, STDIN_LABEL, limit, what)
    if os.environ.get("SSH_CONNECTION") and _connection_gone():
        # the end of the input was the connection dropping (the client killed, the laptop
        # closed), not the end of the file: what came is a part of it, maybe cut mid-line
        raise BadInput(
            _("stdin: the connection dropped before the end of the file ({what}); nothing was changed").format(
                what=what
            )
        )
    return raw


def _readable(fd: int, wait: float) -> bool:
    """Whether `fd` has bytes (or its end) within `wait` seconds."""
    import select

    try:
        return bool(select.select([fd], [], [], wait)[0])
    except (OSError, ValueError):
        return True  # not something to wait on: the read says what it is


def _connection_gone(grace: float = 0.2) -> bool:
    """Whether whoever reads this process's output is gone. Over SSH the end of the
    standard input is either the client's end of file (the connection stays: the answer
    goes back through it) or the connection dropping: sshd's process for it ends and
    closes its ends of our stdout and stderr along with our stdin. `poll` reports a pipe
    or socket whose other end is closed (POLLERR, POLLHUP) without being asked; `grace`
    leaves sshd the moment its exit takes to close them all."""
    import select

    poller = select.poll()
    for fd in (1, 2):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode):
                poller.register(fd, 0)
        except OSError:
            return True  # closed: nobody reads it
    return any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _fd, ev in poller.poll(grace * 1000))


def label_of(path: os.PathLike | str) -> str:
    """How messages name an input: its path, or `stdin` for `-`."""
    return STDIN_LABEL if str(path) == STDIN else str(path)
