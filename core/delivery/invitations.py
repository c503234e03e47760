"""Invitations (SPEC §2): the personal code and link one email carries, created and
committed with the email's hand-over, before it is sent, so that a retry reuses them —
same code, same link — and the 14 days run from this sending."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.campaigns.actions import INVITATION_VALID_DAYS as VALID_DAYS
from core.models import Invitation, database

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


def new_code() -> str:
    """8 characters, no look-alikes (0/O, 1/I/L), shown as XXXX-XXXX."""
    s = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{s[:4]}-{s[4:]}"


def link(app_url: str, code: str) -> str:
    return f"{app_url.rstrip('/')}/{code.replace('-', '')}"


@dataclass(frozen=True)
class InvitationInfo:
    code: str
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ForEmail:
    delivery_id: int
    recipient_id: int
    patient_id: int
    campaign_id: int


_COLUMNS = "recipient_id, patient_id, campaign_id, delivery_id, code, token, url, created_at, expires_at"
CHUNK = 500  # invitations one statement makes


def _insert(n: int) -> str:
    """INSERT of n invitations (ON CONFLICT DO NOTHING: a retry's exists, a code collided)."""
    p = database.param
    one = "(" + ", ".join([p] * 9) + ")"
    values = ", ".join([one] * n)
    return f"INSERT INTO {Invitation._meta.table_name} ({_COLUMNS}) VALUES {values} ON CONFLICT DO NOTHING"


def _new(r: ForEmail, app_url: str, now: datetime, expires: datetime) -> tuple:
    code = new_code()
    return (r.recipient_id, r.patient_id, r.campaign_id, r.delivery_id, code, secrets.token_urlsafe(32),
            link(app_url, code), now, expires)  # fmt: skip


class FirstInsert:
    """The statement that makes the invitations of up to 500 emails, RETURNING the
    delivery ids it made: its `sql` and `params`, and `made(ids)` — what those got.
    `ensure` runs it, or a caller that joins it to its own statement (the hand-over on
    PostgreSQL: one round trip for its writes) gives `ensure` its result."""

    def __init__(self, rows: list[ForEmail], app_url: str, now: datetime) -> None:
        assert len(rows) <= CHUNK
        self.expires = now + timedelta(days=VALID_DAYS)
        self.values = {r.delivery_id: _new(r, app_url, now, self.expires) for r in rows}
        self.sql = _insert(len(self.values)) + " RETURNING delivery_id"
        self.params = [v for row in self.values.values() for v in row]

    def made(self, ids) -> dict[int, InvitationInfo]:
        return {d: InvitationInfo(self.values[d][4], self.values[d][6], self.expires) for d in ids}


def ensure(
    rows: list[ForEmail], app_url: str, now: datetime, made: dict[int, InvitationInfo] | None = None
) -> dict[int, InvitationInfo]:
    """The invitation of each email delivery (by delivery id), inside the caller's
    transaction: made if missing, its validity moved to 14 days from now if present.
    A first email's (the common case) are made in one statement that returns them
    (`FirstInsert`; `made`: what the caller's run of it made)."""
    expires = now + timedelta(days=VALID_DAYS)
    got: dict[int, InvitationInfo] = dict(made or {})
    if made is None:
        for i in range(0, len(rows), CHUNK):
            first = FirstInsert(rows[i : i + CHUNK], app_url, now)
            got.update(first.made(d for (d,) in database.execute_sql(first.sql, first.params).fetchall()))
    # a retry (its invitation exists: the validity moves), or a code that collided
    rows = [r for r in rows if r.delivery_id not in got]
    ids = [r.delivery_id for r in rows]
    for _ in range(5):
        if not rows:
            return got
        have = {d for (d,) in Invitation.select(Invitation.delivery).where(Invitation.delivery.in_(ids)).tuples()}
        missing = [_new(r, app_url, now, expires) for r in rows if r.delivery_id not in have]
        if missing:
            # a code collision is skipped by ON CONFLICT, then tried again with a new code
            database.cursor().executemany(_insert(1), missing)
        if have:
            Invitation.update(expires_at=expires).where(
                Invitation.delivery.in_(list(have)), Invitation.expires_at < expires
            ).execute()
        for d, code, url, exp in (
            Invitation.select(Invitation.delivery, Invitation.code, Invitation.url, Invitation.expires_at)
            .where(Invitation.delivery.in_(ids))
            .tuples()
        ):
            got[d] = InvitationInfo(code, url, exp)
        rows = [r for r in rows if r.delivery_id not in got]
        ids = [r.delivery_id for r in rows]
    if not rows:
        return got
    raise RuntimeError("could not create unique invitation codes")
