"""Secrets are read where sending happens, not when the config loads (SPEC §13).

The config keeps a `SecretRef` (which environment variable or file holds the gateway
token or the SMTP password); `resolve()` reads it when a transport is first built. A
staff member who cannot read the token file can therefore list, create, assign and
start: only their embedded scheduler stays off, and `config check` says so.

Nothing about the file is a config error: a `*_file` that does not exist, is empty, or
that others can read or write (0644) is the sender's problem, not every staff member's.
The sender refuses to use it and pauses that channel only (SPEC §5; a secret open to
others is never used: whoever could read it may have), the daemon's log, `status` and
the TUI say why with the fix, and `config check` names it. A `*_file` readable by its
group (0640, the service account's group) is fine.

`Unusable.everyone` tells the two kinds apart: a secret no process can use as it is
(missing, empty, not one line of text, open to others: the clinic's setup to fix), and
one only this account lacks (a file it may not read, a variable its environment does
not have), as every staff member on a shared server.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from core.errors import ConfigError
from core.i18n import _

MAX_SECRET_BYTES = 64 * 1024  # a token or a password, never a whole file of data
# the settings that name each channel's secret, as a problem with it begins ("gateway.token_file: …")
SETTINGS = {
    "email": ("email.password_env", "email.password_file"),
    "gateway": ("gateway.token_env", "gateway.token_file"),
}


@dataclass(frozen=True)
class SecretRef:
    """Where one secret lives: `key` is "gateway.token" or "email.password"."""

    key: str
    env: str = ""  # the variable's name
    env_value: str | None = None  # its value in this process at load (None: not set)
    file: str = ""  # an absolute path
    config_path: Path | None = None

    @property
    def where(self) -> str:
        if self.env:
            return _("environment variable {name}").format(name=self.env)
        return self.file

    @property
    def setting(self) -> str:
        return f"{self.key}_env" if self.env else f"{self.key}_file"


def ref(section: str, name: str, values: dict, env, base: Path, problems: list[str], config_path=None):
    """The SecretRef of `<name>_env` / `<name>_file` in `values`, or None; the only problem
    is both set: the file is neither looked at nor read here (see the module's docstring)."""
    env_key, file_key = values.get(f"{name}_env"), values.get(f"{name}_file")
    if env_key and file_key:
        problems.append(
            _("{section}: set {env_key} or {file_key}, not both").format(
                section=section, env_key=f"{name}_env", file_key=f"{name}_file"
            )
        )
        return None
    key = f"{section}.{name}"
    if env_key:
        return SecretRef(key, env=env_key, env_value=env.get(env_key), config_path=config_path)
    if not file_key:
        return None
    fp = Path(file_key) if os.path.isabs(file_key) else base / file_key
    return SecretRef(key, file=str(fp), config_path=config_path)


class SecretError(ConfigError):
    """A secret this process cannot use (one line naming the key, the file and the fix);
    `everyone`: no process could, as the file is (see the module's docstring)."""

    def __init__(self, path, problems: list[str], everyone: bool):
        super().__init__(path, problems)
        self.everyone = everyone


def resolve(secret: SecretRef | None) -> str | None:
    """The secret's text; raises ConfigError (one line naming the key and the fix) when
    this process cannot read it or it is not a usable secret (empty, binary, huge)."""
    if secret is None:
        return None
    # a variable is this process's environment: the sender's may hold it
    everyone = not secret.env
    if secret.env:
        if secret.env_value is None:
            _fail(secret, _("environment variable {name} is not set").format(name=secret.env), everyone)
        value = secret.env_value
    else:
        value = _read_file(secret)
    value = value.strip()
    if not value:
        _fail(secret, _("{where} is empty").format(where=secret.where), everyone)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        _fail(
            secret,
            _("{where} holds control characters or line breaks; expected one line of text").format(where=secret.where),
            everyone,
        )
    return value


def problem(secret: SecretRef | None) -> SecretError | None:
    """None when this process can use the secret, else why not."""
    try:
        resolve(secret)
    except SecretError as e:
        return e
    return None


def readable(secret: SecretRef | None) -> str | None:
    """None when this process can use the secret, else why not (one line)."""
    e = problem(secret)
    return e.problems[0] if e is not None else None


def _read_file(secret: SecretRef) -> str:
    fp = Path(secret.file)
    try:
        st = fp.stat()
        if not stat.S_ISREG(st.st_mode):
            _fail(secret, _("{path} is not a regular file").format(path=fp))
        if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            _fail(secret, _("{path} is readable or writable by others; run: chmod o-rwx {path}").format(path=fp))
        with open(fp, "rb") as f:
            raw = f.read(MAX_SECRET_BYTES + 1)
    except PermissionError:
        _fail(
            secret,
            _("cannot read {path}: permission denied (it is for the account that sends)").format(path=fp),
            everyone=False,
        )
    except (FileNotFoundError, NotADirectoryError):
        _fail(
            secret,
            _(
                "{path} does not exist: write the secret in it (one line, not readable by others), or correct the path"
            ).format(path=fp),
        )
    except OSError as e:
        from core import oserrors

        _fail(secret, _("cannot read {path}: {why}").format(path=fp, why=oserrors.words(e)))
    if len(raw) > MAX_SECRET_BYTES:
        _fail(secret, _("{path} is larger than {n} bytes; expected one line").format(path=fp, n=MAX_SECRET_BYTES))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(secret, _("{path} is not UTF-8 text (a binary file?)").format(path=fp))


def _fail(secret: SecretRef, why: str, everyone: bool = True) -> NoReturn:
    raise SecretError(secret.config_path, [f"{secret.setting}: {why}"], everyone)


def needed(config) -> list[tuple[str, SecretRef]]:
    """The secrets this config's transports need to send: (words for staff, ref)."""
    out: list[tuple[str, SecretRef]] = []
    if config.email.transport == "smtp" and config.email.password_secret is not None:
        out.append((_("the SMTP password"), config.email.password_secret))
    if config.gateway.transport == "http" and config.gateway.token_secret is not None:
        out.append((_("the gateway token"), config.gateway.token_secret))
    return out


@dataclass(frozen=True)
class Unusable:
    """A secret this process needs to send and cannot use."""

    channel: str  # the channel that needs it: "email" or "gateway" (core.channel_health)
    words: str  # "the gateway token", for staff
    ref: SecretRef
    why: str  # one line naming the key, the file and the fix
    everyone: bool  # no process could use it as it is (else only this account lacks it)


def unusable(config) -> list[Unusable]:
    """Each secret this process would need to send and cannot use."""
    out = []
    for words, r in needed(config):
        e = problem(r)
        if e is not None:
            out.append(Unusable(r.key.partition(".")[0], words, r, e.problems[0], e.everyone))
    return out


__all__ = [
    "SETTINGS",
    "SecretError",
    "SecretRef",
    "Unusable",
    "needed",
    "problem",
    "readable",
    "ref",
    "resolve",
    "unusable",
]
