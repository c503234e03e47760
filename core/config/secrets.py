"""Secrets are read where sending happens, not when the config loads (SPEC §13).

The config keeps a `SecretRef` (which environment variable or file holds the gateway
token or the SMTP password, which file the DKIM private key); `resolve()` reads it when
a transport is first built (`key_bytes()` the DKIM key, when the first email is signed).
A staff member who cannot read the token file can therefore list, create, assign and
start: only their embedded scheduler stays off, and `config check` says so.

Nothing about the file is a config error: a `*_file` (`dkim_key_file` too) that does
not exist, is empty, or that others can read or write (0644) is the sender's problem,
not every staff member's.
The sender refuses to use it and pauses that channel only (SPEC §5; a secret open to
others is never used: whoever could read it may have), the daemon's log, `status` and
the TUI say why with the fix, and `config check` names it. A `*_file` readable by its
group (0640, the service account's group) is fine.

What is wrong is said twice (`SecretError`): in the words of whoever runs the process
(`problems`, for `config check` and the log), and as stored for a paused channel
(`stored`: core.reasons.Detail's English, which every reader gets in their own language,
and which begins with the setting, "email.dkim_key_file: ", for core.channel_health).

`Unusable.everyone` tells the two kinds apart: a secret no process can use as it is
(missing, empty, not one line of text, open to others: the clinic's setup to fix), and
one only this account lacks (a file it may not read, a variable its environment does
not have), as every staff member on a shared server.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from core import oserrors
from core.errors import ConfigError
from core.i18n import _
from core.reasons import Detail, detail

MAX_SECRET_BYTES = 64 * 1024  # a token or a password, never a whole file of data
MAX_KEY_BYTES = 64 * 1024  # a PEM private key (an RSA 4096 one is about 3 KB)
# the settings that name each channel's secrets, as a problem with one begins ("gateway.token_file: …")
SETTINGS = {
    "email": ("email.password_env", "email.password_file", "email.dkim_key_file"),
    "gateway": ("gateway.token_env", "gateway.token_file"),
}


@dataclass(frozen=True)
class SecretRef:
    """Where one secret lives: `key` is "gateway.token", "email.password" or
    "email.dkim_key" (`pem`: a private key of several lines, read as bytes)."""

    key: str
    env: str = ""  # the variable's name
    env_value: str | None = None  # its value in this process at load (None: not set)
    file: str = ""  # an absolute path
    config_path: Path | None = None
    pem: bool = False

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


def dkim_ref(email: dict, config_path=None) -> SecretRef | None:
    """The DKIM private key's SecretRef, once core.config.checks.check_dkim made its path
    absolute (None when clinicast does not sign)."""
    if not email.get("dkim_key_file"):
        return None
    return SecretRef("email.dkim_key", file=email["dkim_key_file"], config_path=config_path, pem=True)


class SecretError(ConfigError):
    """A secret this process cannot use: `problems`, one line naming the key, the file and
    the fix in the words of this process; `stored`, the same as a paused channel keeps it
    (core.reasons.Detail, said in each reader's language); `everyone`: no process could,
    as the file is (see the module's docstring)."""

    def __init__(self, path, problems: list[str], everyone: bool, stored: str = "", msgid: str = ""):
        super().__init__(path, problems)
        self.everyone = everyone
        self.stored = stored or (problems[0] if problems else "")
        self.msgid = msgid  # the Detail said (SECRET_DENIED is said again for the sender: `problem`)


def failure(msgid: str, *, config_path=None, everyone: bool = True, **values) -> SecretError:
    """A SecretError saying `msgid` (one of core.reasons.Detail) with `values`: an OSError
    among them is put in words, each side in its own language."""
    english = {k: oserrors.words(v, english=True) if isinstance(v, OSError) else v for k, v in values.items()}
    local = {k: oserrors.words(v) if isinstance(v, OSError) else v for k, v in values.items()}
    return SecretError(config_path, [_(msgid).format(**local)], everyone, detail(msgid, **english), msgid)


def stored(e: ConfigError) -> str:
    """What a paused channel keeps of `e` (core.channel_health): a SecretError's `stored`,
    else its line as it is."""
    if isinstance(e, SecretError):
        return e.stored
    return e.problems[0] if e.problems else str(e)


def resolve(secret: SecretRef | None) -> str | None:
    """The secret's text; raises ConfigError (one line naming the key and the fix) when
    this process cannot read it or it is not a usable secret (empty, binary, huge)."""
    if secret is None:
        return None
    # a variable is this process's environment: the sender's may hold it
    everyone = not secret.env
    if secret.pem:
        return key_bytes(secret).decode("ascii", "replace")
    if secret.env:
        if secret.env_value is None:
            _fail(secret, Detail.SECRET_ENV_NOT_SET, everyone)
        value = secret.env_value
    else:
        value = _decoded(secret, _read_file(secret, MAX_SECRET_BYTES, Detail.SECRET_TOO_LARGE))
    value = value.strip()
    if not value:
        _fail(secret, Detail.SECRET_ENV_EMPTY if secret.env else Detail.SECRET_EMPTY, everyone)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        _fail(secret, Detail.SECRET_ENV_NOT_ONE_LINE if secret.env else Detail.SECRET_NOT_ONE_LINE, everyone)
    return value


def key_bytes(secret: SecretRef) -> bytes:
    """A private key's bytes (the DKIM key: several lines, checked as a secret file is,
    its form left to the signer); raises SecretError as `resolve`."""
    raw = _read_file(secret, MAX_KEY_BYTES, Detail.KEY_TOO_LARGE)
    if not raw.strip():
        _fail(secret, Detail.SECRET_EMPTY)
    return raw


def problem(secret: SecretRef | None, config=None) -> SecretError | None:
    """None when this process can use the secret, else why not. With `config`, a file this
    process may not read is said for whom it is: when this process is the service account
    (the account that sends), that it cannot read it and the fix; else, that it is the
    sender's (as every staff member on a shared server)."""
    try:
        resolve(secret)
    except SecretError as e:
        if config is not None and secret is not None and e.msgid == Detail.SECRET_DENIED:
            account = service_account(config)
            if account is not None and account.uid == os.geteuid():
                return denied_to(account, secret)
        return e
    return None


@dataclass(frozen=True)
class Account:
    """The service account as the host knows it (SPEC §13): whose group reads the
    secrets (install.sh: `root:GROUP`, 0640, GROUP its own group)."""

    uid: int
    login: str
    group: str  # its primary group's name
    gids: frozenset[int]  # every group it is a member of

    def closed(self, path: str | Path) -> Path | None:
        """What keeps it from reading `path` (nothing is read): the first folder on the
        way it may not go through, or the file; None when it may read it. Raises OSError
        when this process cannot look (core.config.reach)."""
        from core.config.reach import closed_on_the_way

        return closed_on_the_way(self.uid, self.gids, path)


def account(login: str) -> Account | None:
    """The Account of `login`, None when the host has no such user."""
    try:
        pw = pwd.getpwnam(login)
    except KeyError:
        return None
    from core.dbfiles import group_name

    return Account(pw.pw_uid, pw.pw_name, group_name(pw.pw_gid), frozenset(os.getgrouplist(pw.pw_name, pw.pw_gid)))


def service_account(config) -> Account | None:
    """The account the daemon runs as, when it can be known (core.context's
    `is_service_account` from its side): the owner of the SQLite database (its folder
    before `init`); on PostgreSQL, the login named like the URL's role, else the one named
    like the role owning the schema (asked only when the database is bound). None when
    it cannot be known, or is root (who reads every file)."""
    from core import pgurl
    from core.dbfiles import owner, sqlite_path

    path = sqlite_path(config.database.url)
    if path is not None:
        uid = owner(path)
        if not uid:  # unknown, or root
            return None
        try:
            return account(pwd.getpwuid(uid).pw_name)
        except KeyError:
            return None
    name = pgurl.params(config.database.url).get("user") or _schema_owner()
    found = account(name) if name else None
    return found if found is not None and found.uid != 0 else None


def _schema_owner() -> str:
    """The role owning the schema clinicast lives in (who ran `init`), "" when not known."""
    from core.models import database

    if database.obj is None:
        return ""
    was_closed = database.is_closed()
    try:
        row = database.execute_sql(
            "SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner "
            "WHERE n.nspname = current_schema()"
        ).fetchone()
    except Exception:  # noqa: BLE001 - refused or unreachable: not known
        row = None
    if was_closed:
        database.close()
    return str(row[0]) if row and row[0] else ""


def denied_to(account: Account, secret: SecretRef) -> SecretError:
    """The service account (`account`) cannot read `secret`'s file: said with the fix,
    the folder's when a folder on the way is closed to it (the file's own mode is then
    not the reason, and chown and chmod on it would change nothing)."""
    try:
        where = account.closed(secret.file)
    except OSError:
        where = None
    if where is not None and where != Path(os.path.abspath(secret.file)):
        msgid, fix = Detail.SECRET_FOLDER_CLOSED_SENDER, {"folder": str(where)}
    else:
        msgid, fix = Detail.SECRET_DENIED_SENDER, {"group": account.group}
    return failure(
        msgid,
        config_path=secret.config_path,
        everyone=False,
        key=secret.setting,
        login=account.login,
        path=secret.file,
        **fix,
    )


def denied_to_service(found: Account | None, secret: SecretRef) -> SecretError | None:
    """Whether the service account (`found`: `service_account()`), seen from another
    account (root, a staff member), could read `secret`'s file, from the owner, group,
    mode and ACL of the file and of each folder on the way (nothing is read): None when
    it could, or when it cannot be known (a
    variable: the daemon's environment; no service account known; a file this account
    cannot look at), or is said otherwise (this process is the service account: `problem`;
    a file every account is refused as it is — missing, not a file, open to others)."""
    if not secret.file or found is None or found.uid == os.geteuid():
        return None
    try:
        st = Path(secret.file).stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        return None
    try:
        closed = found.closed(secret.file)  # every folder on the way, and an ACL, as the kernel decides
    except OSError:
        return None
    return None if closed is None else denied_to(found, secret)


def _read_file(secret: SecretRef, limit: int, too_large: str) -> bytes:
    """The file's bytes, when it is one no other account can read (SPEC §5)."""
    fp = Path(secret.file)
    try:
        st = fp.stat()
        if not stat.S_ISREG(st.st_mode):
            _fail(secret, Detail.SECRET_NOT_REGULAR)
        if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            _fail(secret, Detail.SECRET_OPEN)
        if st.st_size == 0:  # seen without reading: a staff member's check says it as root's does
            _fail(secret, Detail.SECRET_EMPTY)
        with open(fp, "rb") as f:
            raw = f.read(limit + 1)
    except PermissionError:
        _fail(secret, Detail.SECRET_DENIED, everyone=False)
    except (FileNotFoundError, NotADirectoryError):
        _fail(secret, Detail.KEY_MISSING if secret.pem else Detail.SECRET_MISSING)
    except OSError as e:
        _fail(secret, Detail.SECRET_UNREADABLE, why=e)
    if len(raw) > limit:
        _fail(secret, too_large, n=limit)
    return raw


def _decoded(secret: SecretRef, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(secret, Detail.SECRET_NOT_TEXT)


def _fail(secret: SecretRef, msgid: str, everyone: bool = True, **values) -> NoReturn:
    """Raise what is wrong with `secret` (`msgid`, one of core.reasons.Detail, which names
    the setting first)."""
    where = {"name": secret.env} if secret.env else {"path": secret.file}
    raise failure(msgid, config_path=secret.config_path, everyone=everyone, key=secret.setting, **where, **values)


def needed(config) -> list[tuple[str, SecretRef]]:
    """The secrets this config's transports need to send: (words for staff, ref)."""
    out: list[tuple[str, SecretRef]] = []
    if config.email.transport == "smtp" and config.email.password_secret is not None:
        out.append((_("the SMTP password"), config.email.password_secret))
    if config.email.transport == "smtp" and config.email.dkim_key_secret is not None:
        out.append((_("the DKIM private key file"), config.email.dkim_key_secret))
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
        e = problem(r, config)
        if e is not None:
            out.append(Unusable(r.key.partition(".")[0], words, r, e.problems[0], e.everyone))
    return out


__all__ = [
    "SETTINGS",
    "Account",
    "SecretError",
    "SecretRef",
    "Unusable",
    "account",
    "denied_to",
    "denied_to_service",
    "dkim_ref",
    "failure",
    "key_bytes",
    "needed",
    "problem",
    "ref",
    "resolve",
    "service_account",
    "stored",
    "unusable",
]
