"""The audit trail as a hash chain (SPEC §6, §13; issue #19): an edit shows.

Staff share the SQLite folder (they must write the database), so one with a shell on
the host can edit the file; on PostgreSQL their roles may only INSERT and SELECT the
audit table. Either way each row carries `prev_hash`, the `hash` of the row before it
(by id), and its own `hash` = SHA-256 over `prev_hash` and its content (when, who,
what, which campaign, the detail as stored). So:

- a row changed after it was written no longer matches its own hash;
- a row deleted, or rows moved, leave a row whose `prev_hash` is not the hash of the
  row now before it;
- whoever would hide that must recompute every later hash: the daemon logs the chain's
  head (last id and hash) at each start, so a rewritten trail no longer matches the
  journal. Deleting the newest rows leaves a shorter, intact chain: that, too, only a
  head the journal kept can show.

Rows are chained as they are written, inside the action's transaction, under a lock
that makes writers take turns (SQLite: the write lock every transaction takes up front;
PostgreSQL: a transaction-level advisory lock, which needs no privilege on any table).
The scheme is frozen: core/migrations/0004_audit_chain.py chains the rows written
before it with its own copy of `row_hash`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core import formats
from core.audit.words import row_number
from core.i18n import _, ngettext
from core.words import word

GENESIS = "0" * 64  # the prev_hash of the first row
LOCK_KEY = 0x636C696E  # PostgreSQL advisory lock: "clin"; held until the transaction ends
TAIL = 1000  # rows the daemon checks at each start


def row_hash(prev_hash: str, at: datetime, user: str, action: str, campaign: int | None, detail: str) -> str:
    """SHA-256 (hex) over the previous row's hash and this row's content."""
    content = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), user, action, campaign, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def take_turn() -> None:
    """Inside the writing transaction: wait for the other writers of the trail. SQLite
    has it already (BEGIN IMMEDIATE: one writer at a time)."""
    from core.db import is_postgres
    from core.models import database

    if is_postgres():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))


def last_hash() -> str:
    from core.models import AuditLog

    row = AuditLog.select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1).first()
    return row.hash if row is not None else GENESIS


@dataclass(frozen=True)
class Break:
    id: int
    at: datetime
    user: str
    action: str
    kind: str  # "changed" | "deleted" | "moved" | "unchained"

    def describe(self, tz: ZoneInfo) -> str:
        """The row as `clinicast audit` lists it — its number, its moment in the clinic's
        zone, who, what in words — then what is wrong with it."""
        row = _("audit row {row} ({at}, {user}, {action})").format(
            row=row_number(self.id),
            at=formats.when(self.at, tz, seconds=True),
            user=self.user,
            action=word("audit", self.action),
        )
        why = {
            "changed": _("changed after it was written: its content no longer matches its hash"),
            "deleted": _("the row chained before it is gone: deleted, or changed and its hash recomputed"),
            "moved": _("the row written before it is elsewhere in the trail: rows were reordered"),
            "unchained": _("it carries no hash: written around clinicast, not by it"),
        }[self.kind]
        return _("{row}: {why}").format(row=row, why=why)


@dataclass
class Verdict:
    rows: int = 0
    first_id: int | None = None
    last_id: int | None = None
    head: str = GENESIS  # the hash of the last row
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict:
        return {
            "intact": self.intact,
            "rows": self.rows,
            "last_id": self.last_id,
            "head": self.head,
            "breaks": [
                {"id": b.id, "at": b.at.isoformat(), "user": b.user, "action": b.action, "kind": b.kind}
                for b in self.breaks
            ],
        }

    def lines(self, tz: ZoneInfo) -> list[str]:
        """What `clinicast audit verify` says: the breaks, or that it holds and its head."""
        if not self.rows:
            return [_("the audit trail is empty")]
        head = _("last row {row}, hash {hash}").format(row=row_number(self.last_id or 0), hash=self.head)
        if self.intact:
            return [
                ngettext(
                    "the audit trail is intact: {n} row chained; {head}",
                    "the audit trail is intact: {n} rows chained; {head}",
                    self.rows,
                ).format(n=formats.number(self.rows), head=head)
            ]
        out = [
            ngettext(
                "the audit trail is broken in {n} place ({rows} rows checked); {head}:",
                "the audit trail is broken in {n} places ({rows} rows checked); {head}:",
                len(self.breaks),
            ).format(n=len(self.breaks), rows=formats.number(self.rows), head=head)
        ]
        out += [f"  {b.describe(tz)}" for b in self.breaks[:MAX_SHOWN]]
        if len(self.breaks) > MAX_SHOWN:
            out.append("  " + _("… and {n} more").format(n=len(self.breaks) - MAX_SHOWN))
        return out


MAX_SHOWN = 20


def check(ctx) -> Verdict:
    """`clinicast audit verify` (admin): the whole chain."""
    from core.enums import Permission

    ctx.require(Permission.ADMIN)
    return verify()


def verify(*, tail: int | None = None) -> Verdict:
    """Walk the chain in id order (the last `tail` rows only: the daemon's check at start,
    which takes the first of them on trust) and name every break."""
    from core.models import AuditLog

    cols = (AuditLog.id, AuditLog.at, AuditLog.user, AuditLog.action, AuditLog.campaign, AuditLog.detail)
    q = AuditLog.select(*cols, AuditLog.prev_hash, AuditLog.hash).order_by(AuditLog.id)
    if tail:
        start = AuditLog.select(AuditLog.id).order_by(AuditLog.id.desc()).offset(tail - 1).limit(1).scalar()
        if start is not None:
            q = q.where(AuditLog.id >= start)
    verdict = Verdict()
    return _walk(q.tuples().iterator(), verdict, trust_first=bool(tail))


def _walk(rows: Iterable[tuple], verdict: Verdict, *, trust_first: bool) -> Verdict:
    from core.models import AuditLog

    expected: str | None = None if trust_first else GENESIS
    suspects: list[tuple[Break, str]] = []  # broken links: deleted or moved, told apart below
    for id_, at, user, action, campaign, detail, prev_hash, stored in rows:
        verdict.rows += 1
        verdict.first_id = verdict.first_id if verdict.first_id is not None else id_
        verdict.last_id, verdict.head = id_, stored or ""
        if not stored:
            verdict.breaks.append(Break(id_, at, user, action, "unchained"))
        elif row_hash(prev_hash, at, user, action, campaign, detail) != stored:
            verdict.breaks.append(Break(id_, at, user, action, "changed"))
        elif expected is not None and prev_hash != expected:
            b = Break(id_, at, user, action, "deleted")
            verdict.breaks.append(b)
            suspects.append((b, prev_hash))
        expected = stored
    if suspects:  # the row a broken link points at: still in the trail (moved) or gone (deleted)
        wanted = [h for _b, h in suspects[:MAX_SHOWN]]
        present = {h for (h,) in AuditLog.select(AuditLog.hash).where(AuditLog.hash.in_(wanted)).tuples()}
        for b, h in suspects:
            if h in present:
                verdict.breaks[verdict.breaks.index(b)] = Break(b.id, b.at, b.user, b.action, "moved")
    return verdict


# --- the head the daemon saw last ----------------------------------------------------------
# A trail whose newest rows were deleted is a shorter chain that verifies. The daemon keeps
# the head it last saw (row id and hash) in a folder of its own that staff cannot write
# (systemd's StateDirectory, 0700: $STATE_DIRECTORY), and at each start and housekeeping
# run looks for that row: gone, or changed, is said; then the head of now is kept.

HEAD_FILE = "audit-head"


@dataclass(frozen=True)
class Head:
    id: int
    hash: str


def kept_head(folder: Path) -> Head | None:
    """The head kept in `folder` (None: none kept yet, or not readable as one)."""
    try:
        id_text, hash_text = (folder / HEAD_FILE).read_text(encoding="ascii").split()
        return Head(int(id_text), hash_text)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def current_head() -> Head | None:
    from core.models import AuditLog

    row = AuditLog.select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1).first()
    return Head(row.id, row.hash or "") if row is not None else None


@dataclass(frozen=True)
class HeadLost:
    """The row the daemon saw last is `kind` "deleted" (gone) or "changed" (its hash)."""

    kind: str
    id: int
    last_id: int  # where the trail ends now

    def describe(self) -> str:
        if self.kind == "deleted":
            return _(
                "audit row #{id}, the newest when the daemon last looked, is gone: the newest rows "
                "were deleted (the trail now ends at #{last})"
            ).format(id=self.id, last=self.last_id)
        return _("audit row #{id} is not the row the daemon saw: its hash changed since").format(id=self.id)


def guard_head(folder: Path) -> HeadLost | None:
    """Compare the trail with the head kept in `folder`, then keep the head of now (a file
    readable by the daemon's account only). What is wrong, or None."""
    from core.models import AuditLog

    kept, now = kept_head(folder), current_head()
    lost = None
    if kept is not None:
        row = AuditLog.select(AuditLog.hash).where(AuditLog.id == kept.id).first()
        if row is None or row.hash != kept.hash:
            lost = HeadLost("deleted" if row is None else "changed", kept.id, now.id if now else 0)
    if now is not None and now != kept:
        _keep(folder, now)
    return lost


def _keep(folder: Path, head: Head) -> None:
    """Written whole or not at all (a temporary file renamed over the old one), 0600."""
    tmp = folder / f".{HEAD_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"{head.id} {head.hash}\n")
    os.replace(tmp, folder / HEAD_FILE)


__all__ = [
    "GENESIS",
    "HEAD_FILE",
    "Break",
    "Head",
    "HeadLost",
    "Verdict",
    "check",
    "current_head",
    "guard_head",
    "kept_head",
    "last_hash",
    "row_hash",
    "take_turn",
    "verify",
]
