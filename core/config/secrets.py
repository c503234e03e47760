"""Secrets are read where sending happens, not when the config loads (SPEC §13).

The config keeps a `SecretRef` (which environment variable or file holds the gateway
token or the SMTP password); `resolve()` reads it when a transport is first built. A
staff member who cannot read the token file can therefore list, create, assign and
start: only their embedded scheduler stays off, and `config check` says so.

A `*_file` readable by its group (0640, the service account's group) is fine; one that
others can read or write is refused at config load (its mode is visible to everyone).
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
    """The SecretRef of `<name>_env` / `<name>_file` in `values`, or None; checks only what
    everyone can check (both set, a file open to others), never reads the secret."""
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
    try:
        st = fp.stat()
    except PermissionError:
        st = None  # a folder this user cannot enter: their problem only when they send
    except OSError as e:
        from core import oserrors

        problems.append(_("{key}: cannot read {path}: {why}").format(key=f"{key}_file", path=fp, why=oserrors.words(e)))
        return None
    if st is not None and st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        problems.append(
            _("{key}: {path} is readable or writable by others; run: chmod o-rwx {path}").format(
                key=f"{key}_file", path=fp
            )
        )
        return None
    return SecretRef(key, file=str(fp), config_path=config_path)


def resolve(secret: SecretRef | None) -> str | None:
    """The secret's text; raises ConfigError (one line naming the key and the fix) when
    this process cannot read it or it is not a usable secret (empty, binary, huge)."""
    if secret is None:
        return None
    if secret.env:
        if secret.env_value is None:
            _fail(secret, _("environment variable {name} is not set").format(name=secret.env))
        value = secret.env_value
    else:
        value = _read_file(secret)
    value = value.strip()
    if not value:
        _fail(secret, _("{where} is empty").format(where=secret.where))
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        _fail(
            secret,
            _("{where} holds control characters or line breaks; expected one line of text").format(where=secret.where),
        )
    return value


def readable(secret: SecretRef | None) -> str | None:
    """None when this process can use the secret, else why not (one line)."""
    try:
        resolve(secret)
    except ConfigError as e:
        return e.problems[0]
    return None


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
        _fail(secret, _("cannot read {path}: permission denied (it is for the account that sends)").format(path=fp))
    except OSError as e:
        from core import oserrors

        _fail(secret, _("cannot read {path}: {why}").format(path=fp, why=oserrors.words(e)))
    if len(raw) > MAX_SECRET_BYTES:
        _fail(secret, _("{path} is larger than {n} bytes; expected one line").format(path=fp, n=MAX_SECRET_BYTES))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(secret, _("{path} is not UTF-8 text (a binary file?)").format(path=fp))


def _fail(secret: SecretRef, why: str) -> NoReturn:
    raise ConfigError(secret.config_path, [f"{secret.setting}: {why}"])


def needed(config) -> list[tuple[str, SecretRef]]:
    """The secrets this config's transports need to send: (words for staff, ref)."""
    out: list[tuple[str, SecretRef]] = []
    if config.email.transport == "smtp" and config.email.password_secret is not None:
        out.append((_("the SMTP password"), config.email.password_secret))
    if config.gateway.transport == "http" and config.gateway.token_secret is not None:
        out.append((_("the gateway token"), config.gateway.token_secret))
    return out


def unreadable(config) -> list[tuple[str, str]]:
    """(words, why) for each secret this process would need to send and cannot use."""
    return [(words, why) for words, r in needed(config) if (why := readable(r)) is not None]


__all__ = ["SecretRef", "needed", "readable", "ref", "resolve", "unreadable"]
