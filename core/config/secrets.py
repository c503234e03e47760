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
            return f"environment variable {self.env}"
        return self.file

    @property
    def setting(self) -> str:
        return f"{self.key}_env" if self.env else f"{self.key}_file"


def ref(section: str, name: str, values: dict, env, base: Path, problems: list[str], config_path=None):
    """The SecretRef of `<name>_env` / `<name>_file` in `values`, or None; checks only what
    everyone can check (both set, a file open to others), never reads the secret."""
    env_key, file_key = values.get(f"{name}_env"), values.get(f"{name}_file")
    if env_key and file_key:
        problems.append(f"{section}: set {name}_env or {name}_file, not both")
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
        problems.append(f"{key}_file: cannot read {fp}: {e.strerror}")
        return None
    if st is not None and st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        problems.append(f"{key}_file: {fp} is readable or writable by others; run: chmod o-rwx {fp}")
        return None
    return SecretRef(key, file=str(fp), config_path=config_path)


def resolve(secret: SecretRef | None) -> str | None:
    """The secret's text; raises ConfigError (one line naming the key and the fix) when
    this process cannot read it or it is not a usable secret (empty, binary, huge)."""
    if secret is None:
        return None
    if secret.env:
        if secret.env_value is None:
            _fail(secret, f"environment variable {secret.env} is not set")
        value = secret.env_value
    else:
        value = _read_file(secret)
    value = value.strip()
    if not value:
        _fail(secret, f"{secret.where} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        _fail(secret, f"{secret.where} holds control characters or line breaks; expected one line of text")
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
            _fail(secret, f"{fp} is not a regular file")
        if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            _fail(secret, f"{fp} is readable or writable by others; run: chmod o-rwx {fp}")
        with open(fp, "rb") as f:
            raw = f.read(MAX_SECRET_BYTES + 1)
    except PermissionError:
        _fail(secret, f"cannot read {fp}: permission denied (it is for the account that sends)")
    except OSError as e:
        _fail(secret, f"cannot read {fp}: {e.strerror}")
    if len(raw) > MAX_SECRET_BYTES:
        _fail(secret, f"{fp} is larger than {MAX_SECRET_BYTES} bytes; expected one line")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(secret, f"{fp} is not UTF-8 text (a binary file?)")


def _fail(secret: SecretRef, why: str) -> NoReturn:
    raise ConfigError(secret.config_path, [f"{secret.setting}: {why}"])


def needed(config) -> list[tuple[str, SecretRef]]:
    """The secrets this config's transports need to send: (words for staff, ref)."""
    out: list[tuple[str, SecretRef]] = []
    if config.email.transport == "smtp" and config.email.password_secret is not None:
        out.append(("the SMTP password", config.email.password_secret))
    if config.gateway.transport == "http" and config.gateway.token_secret is not None:
        out.append(("the gateway token", config.gateway.token_secret))
    return out


def unreadable(config) -> list[tuple[str, str]]:
    """(words, why) for each secret this process would need to send and cannot use."""
    return [(words, why) for words, r in needed(config) if (why := readable(r)) is not None]


__all__ = ["SecretRef", "needed", "readable", "ref", "resolve", "unreadable"]
