"""clinicast reached over SSH (SPEC §13): staff under sshd's `ForceCommand` (cli.ssh) never
reach the server's files, so a file they give or take travels through the connection.

- `over_ssh()`: this process serves someone connected over SSH;
- `ssh_command(words)`: a clinicast command as they type it on their own computer
  (`ssh clinique recipients list 3 --csv`), quoted for both shells it crosses: every hint
  the command line gives over SSH (cli.ssh) and the TUI's;
- `ledger_over_ssh` (the TUI's export), `id_list_over_ssh` (a list named in Add patients
  that is on their computer): the commands that bring a file home or send it;
- `no_server_file(path, words, ...)`: the rule that a command a staff member gives over SSH
  names no file on the server — any path but `-` is refused, with their command retyped
  with the file through the connection (cli.base's file options call it as they parse);
- `server_paths_shown()`: whether the TUI may browse and read the server's files by path
  (not over SSH: a list is pasted there, or sent with `id_list_over_ssh`'s command)."""

from __future__ import annotations

import os
import shlex
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.context import Ctx
from core.enums import Permission
from core.errors import BadInput
from core.i18n import _, pgettext
from core.infile import STDIN
from core.textcheck import visible


def over_ssh(environ: Mapping[str, str] = os.environ) -> bool:
    """This process serves someone connected over SSH (sshd sets SSH_CONNECTION for every
    session): a file it writes lands on the server, which staff under `ForceCommand` never
    reach — their files travel through the connection (SPEC §13)."""
    return bool(environ.get("SSH_CONNECTION"))


@dataclass(frozen=True)
class LedgerOverSsh:
    """The commands that bring a campaign's ledger to the staff member's own computer
    through the SSH connection (README, "Staff over SSH"), written for this server."""

    unix: str  # macOS and Linux: a terminal's `>` writes the bytes as they come
    windows: str  # PowerShell's `>` rewrites the bytes: `cmd` carries the file
    alias: str  # the README's name for the server in ~/.ssh/config (« clinique » in French)
    host: str  # login@server: what to write instead without such a Host


def ssh_alias() -> str:
    """The README's name for the server in a staff member's ~/.ssh/config (« clinique »)."""
    return pgettext("ssh host", "clinic")


def ssh_command(words: list[str]) -> str:
    """A clinicast command as the staff member types it on their own computer, through
    the connection: `ssh clinique recipients list 3 --csv` (the TUI's export over SSH, and
    the command line's hints over SSH).

    The words are split twice: by the shell on the staff member's computer, then by the
    server (cli.ssh.split), ssh joining them with spaces in between. A word that needs
    quotes is quoted twice, the whole command in double quotes around the word's single
    ones: `ssh clinique "campaigns create --name 'Flu clinic'"`."""
    if all(shlex.quote(w) == w for w in words):
        return f"ssh {ssh_alias()} {' '.join(words)}"
    if any(set(w) & _SPECIAL_IN_DOUBLE_QUOTES for w in words):
        return f"ssh {ssh_alias()} {shlex.quote(shlex.join(words))}"  # correct, if not pretty
    inner = [w if shlex.quote(w) == w else f"'{w}'" if "'" not in w else f'\\"{w}\\"' for w in words]
    return f'ssh {ssh_alias()} "{" ".join(inner)}"'


_SPECIAL_IN_DOUBLE_QUOTES = set('"$`\\!')


def id_list_over_ssh(campaign_id: int, path: str) -> str:
    """The command that sends a list of EMR ids on the staff member's own computer to a
    campaign through the SSH connection: `ssh clinique recipients add 3 --csv - < liste.csv`
    (the TUI's words for a file named there that is not on the server)."""
    return f"{ssh_command(['recipients', 'add', str(int(campaign_id)), '--csv', '-'])} < {shlex.quote(path)}"


def ledger_over_ssh(ctx: Ctx, campaign_id: int) -> LedgerOverSsh:
    ctx.require(Permission.CAMPAIGNS)
    file = _("campaign-{id}.csv").format(id=int(campaign_id))
    words = f"{ssh_command(['recipients', 'list', str(int(campaign_id)), '--csv'])} > {shlex.quote(file)}"
    return LedgerOverSsh(
        unix=words, windows=f'cmd /c "{words}"', alias=ssh_alias(), host=f"{ctx.user.login}@{socket.gethostname()}"
    )


def server_paths_shown(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the TUI browses the server's folders and reads a file by its path (the Add
    patients dialog's CSV tab): at the server's own console, yes; over SSH, no — staff
    without a shell would read there any file their login can (another's export, the
    config), and their own files are on their computer: a list is pasted, or sent with
    `id_list_over_ssh`'s command. The same test as the TUI's export (`over_ssh`)."""
    return not over_ssh(environ)


def through_connection(words: Sequence[str], path: str, *, opts: Sequence[str] = (), writes: bool = False) -> str:
    """The client's command `words` with the file `path` carried by the connection, as
    they type it on their computer: read from `-` (`… --csv - < liste.csv`), or written to
    the standard output (`… --csv > ledger.csv`, the option and its value left out).
    `opts`: the option's names (`--csv`; `--output`, `-o`); none for an argument."""
    words = list(words)
    start, end, kept = None, None, None
    for i, w in enumerate(words):
        if w in opts and i + 1 < len(words) and words[i + 1] == path:
            start, end, kept = i, i + 2, [w, STDIN]
        elif any(w == f"{o}={path}" for o in opts if o.startswith("--")):
            start, end, kept = i, i + 1, [f"{w.partition('=')[0]}={STDIN}"]
        elif any(w == o + path for o in opts if len(o) == 2):  # -o/path/file
            start, end, kept = i, i + 1, [w[:2] + STDIN]
        elif not opts and w == path:
            start, end, kept = i, i + 1, [STDIN]
        if start is not None:
            break
    if start is not None and end is not None and kept is not None:
        words[start:end] = [] if writes else kept
    return f"{ssh_command(words)} {'>' if writes else '<'} {shlex.quote(path)}"


def no_server_file(path: str, words: Sequence[str] | None, *, opts: Sequence[str] = (), writes: bool = False) -> None:
    """SPEC §13, files travel through SSH: a command a staff member gave over SSH (`words`,
    the client's words sshd handed in SSH_ORIGINAL_COMMAND; None for a command typed at the
    server, which is unchanged) names no file on the server. Any path but `-` is refused,
    BadInput in one line, before it is looked at — whether the file exists or can be read
    is not said either — with their command retyped with the file through the connection.
    Without it, `ssh clinic recipients add 3 --csv /etc/passwd` read a server file to a
    staff member who has no shell (its lines came back as unknown ids) and `--output`
    wrote one as them."""
    if words is None or path == STDIN:
        return
    command = through_connection(words, path, opts=opts, writes=writes)
    if writes:
        said = _(
            "{path}: over SSH clinicast writes no file on the server; the export comes to your computer "
            "through the connection: {command}"
        )
    else:
        said = _(
            "{path}: over SSH clinicast reads no file on the server; a file on your computer comes "
            "through the connection: {command}"
        )
    # whole, on one line: a line feed or an escape in a path (or in another of their words)
    # shown escaped, in the command as in the path — `ssh clinic … < 'a\nb.csv'` printed raw
    # broke the one line in two
    raise BadInput(said.format(path=visible(path, len(path)), command=visible(command, len(command))))
