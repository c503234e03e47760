"""A campaign's recipient ledger as CSV (`clinicast recipients list ID --csv`, and the
TUI's export), for a clinic's incident register. An export is a read of patient data:
audited.

- `recipients_csv`, `write_recipients_csv` (the TUI's: a new file in a folder): the ledger;
- `write_private`: `--output FILE`, 0600, never through a symlink nor over the SQLite
  database's own files (a WAL a staff member's session owns, and the clinic's data with it).

Over SSH the file lands on the server, which staff never reach: the commands that bring it
home are core.ssh's."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from core import oserrors, spreadsheet
from core.audit.read import record_read
from core.context import Ctx
from core.enums import Permission
from core.errors import BadInput
from core.i18n import _

PRIVATE_MODE = 0o600  # every export: it holds patient data (SPEC §13)
COLUMNS = ("emr_id", "name", "status", "reason", "reason_text", "added_at", "sent_at", "first_copy_at")


def recipients_csv(
    ctx: Ctx, campaign_id, status: str | None = None, write: Callable[[str], object] | None = None
) -> str:
    """Every recipient (or those of `status`): the columns of `recipients list --json`.
    The export is audited once `write(text)` (a file, stdout) has taken it: one that
    could not be written put no patient's name anywhere, and the trail does not say it did."""
    from core.recipients import page

    ctx.require(Permission.CAMPAIGNS)
    rows = page(ctx, campaign_id, status=status, limit=None)
    ledger = ((j[c] if j[c] is not None else "" for c in COLUMNS) for j in (r.to_json() for r in rows))
    text = spreadsheet.csv_text(ctx.config, COLUMNS, ledger)
    if write is not None:
        write(text)
    record_read(ctx, "export", int(campaign_id), what="recipients", status=status or "", rows=len(rows))
    return text


def recipients_json(
    ctx: Ctx, campaign_id, status: str | None = None, write: Callable[[list[dict]], object] | None = None
) -> list[dict]:
    """`recipients list ID --json`: the same ledger as the CSV (every recipient's name and
    status, to a file or a pipe), so the same audited export, once `write(rows)` has taken it."""
    from core.recipients import page

    ctx.require(Permission.CAMPAIGNS)
    rows = [r.to_json() for r in page(ctx, campaign_id, status=status, limit=None)]
    if write is not None:
        write(rows)
    record_read(ctx, "export", int(campaign_id), what="recipients", status=status or "", rows=len(rows))
    return rows


def _cannot_write(path: Path, e: OSError) -> BadInput:
    return BadInput(_("cannot write {path}: {why}").format(path=path, why=oserrors.words(e)))


def write_private(path: str | os.PathLike, text: str) -> Path:
    """`--output FILE`: `text` written to `path` readable by its owner only (0600, set by
    clinicast, whatever the umask or the file's old mode): an export holds patients'
    names. A symlink or anything but a regular file is refused, never followed; so are
    the SQLite database's own files (clinicast.db, -wal, -shm, -journal)."""
    path = Path(path)
    db = _database_file()
    if db is not None and Path(os.path.realpath(path.parent)) == db.parent and path.name.startswith(db.name):
        # the WAL and shared memory belong to whoever opened the database first (a staff
        # member's TUI, all day): their `--output clinicast.db-wal` over SSH truncated it,
        # and the clinic's database with it
        raise BadInput(
            _("{path}: is one of the database's own files; write the export to another file").format(path=path)
        )
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, PRIVATE_MODE)
    except OSError as e:
        raise _cannot_write(path, e) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(_("{path}: is not a regular file; give the name of a file to write").format(path=path))
        os.fchmod(fd, PRIVATE_MODE)
        os.ftruncate(fd, 0)
        with os.fdopen(fd, "w", encoding="utf-8", newline="", closefd=False) as f:
            f.write(text)
    except OSError as e:
        raise _cannot_write(path, e) from None
    finally:
        os.close(fd)
    return path


def _database_file() -> Path | None:
    """The SQLite database in use (its WAL, shared memory and journal are named after it)."""
    import peewee as pw

    from core.models import database

    db = database.obj
    if not isinstance(db, pw.SqliteDatabase) or db.database in ("", ":memory:"):
        return None
    return Path(os.path.realpath(db.database))


def write_recipients_csv(ctx: Ctx, campaign_id, folder) -> Path:
    """The ledger written to a new file in `folder` (the TUI's export), readable by its
    owner only: it holds patients' names. Never overwrites a file."""
    from datetime import UTC

    stamp = ctx.now().replace(tzinfo=UTC).astimezone(ctx.config.clinic.tz).strftime("%Y-%m-%d-%H%M%S")
    # in the staff's words, as the ledger over SSH is (« campagne-3.csv »): a file they hand on
    base = Path(folder) / _("campaign-{id}-recipients-{stamp}").format(id=int(campaign_id), stamp=stamp)
    written: list[Path] = []

    def write(text: str) -> None:
        for n in range(100):
            path = base.with_name(base.name + (f"-{n}" if n else "") + ".csv")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
            except FileExistsError:
                continue
            except OSError as e:
                raise _cannot_write(path, e) from None
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                    f.write(text)
            except OSError as e:  # a full disk: no half file left behind
                path.unlink(missing_ok=True)
                raise _cannot_write(path, e) from None
            written.append(path)
            return
        raise BadInput(_("cannot write {path}: too many exports with that name").format(path=f"{base}.csv"))

    recipients_csv(ctx, campaign_id, write=write)
    return written[0]
