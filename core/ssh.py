"""clinicast reached over SSH (SPEC §13): staff under sshd's `ForceCommand` (cli.ssh) never
reach the server's files, so a file they give or take travels through the connection.

- `over_ssh()`: this process serves someone connected over SSH;
- `ssh_command(words)`: a clinicast command as they type it on their own computer
  (`ssh clinique recipients list 3 --csv`), quoted for both shells it crosses: every hint
  the command line gives over SSH (cli.ssh) and the TUI's;
- `ledger_over_ssh` (the TUI's export), `id_list_over_ssh` (a list named in Add patients
  that is on their computer): the commands that bring a file home or send it."""

from __future__ import annotations

import os
import shlex
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from core.context import Ctx
from core.enums import Permission
from core.i18n import _, pgettext


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
