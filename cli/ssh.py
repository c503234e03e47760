"""clinicast as sshd's `ForceCommand` (SPEC §13): staff's files travel through SSH.

sshd runs the forced command (`clinicast --config /etc/clinicast/config.toml`) whatever
the client asked for, and hands the client's words in `SSH_ORIGINAL_COMMAND`. When the
forced command names no subcommand, those words become its subcommand and arguments:
split like a shell would (`shlex`), never run by one. So

    ssh clinic recipients add 3 --csv - < liste.csv
    ssh clinic recipients list 3 --csv > ledger.csv

run as the staff member sshd logged in, with the same permissions and audit as at a
terminal on the server. Refused in one line, exit 2:
- anything that is not a clinicast command (`sh -c id`, `scp -t .`, `sftp-server`);
- shell syntax (`;`, `|`, `&&`, `>`...): nothing here would run it, so it is said;
- options that choose the config (`--config`, `--config=...`): they come from the
  forced command alone — a client handing in its own config (`--config /dev/stdin`)
  would make itself admin;
- the commands that are not a staff member's (`daemon`, `demo`).

Without a terminal and without a command, clinicast says how to use it over SSH
instead of drawing a TUI into a pipe (`need_terminal`).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence

from core.i18n import _
from core.textcheck import quoted_value

ENV = "SSH_ORIGINAL_COMMAND"
CONFIG_OPTIONS = ("--config",)  # the options only the forced command may give
NOT_OVER_SSH = frozenset({"daemon", "demo"})
TOP_LEVEL = ("-h", "--help", "--version")
SHELL_PUNCTUATION = set("();<>|&")


class Refused(Exception):
    """The client's command is not run: one line, exit 2."""


def _is_config_option(word: str) -> bool:
    return any(word == o or word.startswith(o + "=") for o in CONFIG_OPTIONS)


def only_global_options(argv: Sequence[str]) -> bool:
    """The forced command names no subcommand: only `--config PATH` (or nothing)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in CONFIG_OPTIONS:
            i += 2
        elif _is_config_option(word):
            i += 1
        else:
            return False
    return True


def split(command: str) -> list[str]:
    """The client's words, split as a POSIX shell would split them (quotes, backslashes);
    shell operators come out as words of their own, to be refused."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        raise Refused(
            _("the command has an unclosed quote: {command}; {twice}").format(command=command, twice=quoted_twice())
        ) from None


def quoted_twice() -> str:
    """How a value with a space or an apostrophe reaches the server: the staff member's
    own shell takes one level of quotes away, the server needs the other."""
    from core.ssh import ssh_command

    example = ssh_command(["campaigns", "create", "--kind", "invitation", "--name", _("Flu clinic")])
    return _("over SSH a value with spaces is quoted twice: {example}").format(example=example)


def usage_hint(command_path: str, env: Mapping[str, str] | None = None) -> str | None:
    """After a usage error in a client's command over SSH: the help it can reach (`clinicast
    campaigns create --help` is not a command on the staff member's computer) and, for a
    value that came apart into several words, how to quote it; None when not over SSH."""
    if ENV not in (os.environ if env is None else env):
        return None
    from core.ssh import ssh_command

    words = command_path.split()[1:]  # "clinicast campaigns create" -> the subcommand's words
    return _("see {help}; {twice}").format(help=ssh_command([*words, "--help"]), twice=quoted_twice())


# the dashes a word processor or an email puts for `-` and `--`: en dash, em dash, minus...
TYPOGRAPHIC_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_DASHED = re.compile(f"([{TYPOGRAPHIC_DASHES}-]{{1,2}})([a-z][a-z-]*(?:=.*)?)?", re.S)


def _with_hyphens(word: str) -> str:
    """`—json`, `–-csv`, `–o`, `–` (stdin) as `--json`, `--csv`, `-o`, `-`: a word that is
    one or two dashes, alone or before an option's name, with a typographic one among them;
    any other word as it is (a campaign named « — spécial » keeps its dash)."""
    m = _DASHED.fullmatch(word)
    if not m or not set(m.group(1)) & set(TYPOGRAPHIC_DASHES):
        return word
    dashes, name = m.group(1), m.group(2) or ""
    if not name:
        return "-" * len(dashes)
    return f"-{name}" if len(dashes) == 1 and len(name) == 1 else f"--{name}"


def client_words(command: str, commands: Sequence[str]) -> list[str]:
    """The clinicast subcommand and arguments in `command` (SSH_ORIGINAL_COMMAND), or
    Refused saying why; `commands` are the clinicast subcommands."""
    words = split(command)
    if not words:
        return []
    for word in words:
        if word and set(word) <= SHELL_PUNCTUATION:
            raise Refused(
                _(
                    "{word}: shell syntax is not run over SSH; give one clinicast command "
                    "(a value holding < > | ; & is quoted twice: ssh SERVER 'campaigns create --name \"A & B\"')"
                ).format(word=quoted_value(word))
            )
    typed = [_with_hyphens(w) for w in words]
    if typed != words:
        word = next(w for w, t in zip(words, typed, strict=True) if w != t)
        from core.ssh import ssh_command

        raise Refused(
            _(
                "{word}: a typographic dash (as a word processor or an email writes it) where the command "
                "needs the - key; type it with that key: {command}"
            ).format(word=quoted_value(word), command=ssh_command(typed))
        )
    for word in words:
        if _is_config_option(word):
            raise Refused(
                _("{option} is not yours to give over SSH: the server's forced command chooses the config").format(
                    option=word.partition("=")[0]
                )
            )
    first = words[0]
    if first in NOT_OVER_SSH:
        raise Refused(
            _("{command} is not available over SSH (it runs on the server, as the service account)").format(
                command=quoted_value(first)
            )
        )
    if first not in commands and first not in TOP_LEVEL:
        allowed = ", ".join(sorted(set(commands) - NOT_OVER_SSH))
        raise Refused(
            _(
                "{word} is not a clinicast command; over SSH give one of: {allowed} (e.g. ssh SERVER campaigns list)"
            ).format(word=quoted_value(first, 60), allowed=allowed)
        )
    return words


def forced_argv(argv: Sequence[str], commands: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """The arguments clinicast runs with: under a ForceCommand naming no subcommand, the
    forced ones followed by the client's words; otherwise `argv` unchanged."""
    env = os.environ if env is None else env
    if ENV not in env or not only_global_options(argv):
        return list(argv)
    return [*argv, *client_words(env[ENV], commands)]


def _client_command(env: Mapping[str, str] | None) -> list[str] | None:
    """The client's words when this process runs them (under ForceCommand), else None."""
    env = os.environ if env is None else env
    if ENV not in env:
        return None
    try:
        return split(env[ENV])
    except Refused:
        return None


def as_typed(words: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """A clinicast command a hint gives, as its reader types it: `clinicast WORDS` at the
    server's terminal; over SSH (the client's command under ForceCommand), `ssh clinic
    WORDS` on their own computer, where no `clinicast` is."""
    if ENV not in (os.environ if env is None else env):
        return shlex.join(["clinicast", *words])
    from core.ssh import ssh_command

    return ssh_command(list(words))


def waiting_for_stdin(what: str) -> None:
    """core.infile's `on_stdin_wait`: a command over SSH reading `-` got nothing for a
    few seconds — the `< liste.csv` is likely forgotten and the standard input is the
    staff member's keyboard, where clinicast would wait in silence. Said in one line
    with the command to give; the read goes on (ids typed, then ctrl+D, are a list too)."""
    import click

    from core.ssh import ssh_command

    words = _client_command(None)
    command = ssh_command(words) if words else "..."
    said = _(
        "-: waiting for {what} on the standard input; to send a file from your computer: "
        "{command} < list.csv (ctrl+C cancels)"
    )
    click.echo("clinicast: " + said.format(what=what, command=command), err=True)


def has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def no_terminal_message() -> str:
    """What someone reaching clinicast without a terminal reads (never a TUI into a pipe).
    `--` before `--help`: OpenSSH's client reads options after the host name too, so
    `ssh SERVER --help` prints ssh's own usage and never reaches clinicast."""
    return _(
        "no terminal: the clinicast screens need one (ssh -t SERVER); without one, give a command: "
        "ssh SERVER campaigns list, ssh SERVER recipients add ID --csv - < list.csv, "
        "ssh SERVER recipients list ID --csv > ledger.csv (ssh SERVER -- --help lists them)"
    )


__all__ = [
    "ENV",
    "Refused",
    "as_typed",
    "client_words",
    "forced_argv",
    "has_terminal",
    "no_terminal_message",
    "quoted_twice",
    "split",
    "usage_hint",
    "waiting_for_stdin",
]
