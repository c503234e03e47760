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


def ensure(rows: list[ForEmail], app_url: str, now: datetime) -> dict[int, InvitationInfo]:
    """The invitation of each email delivery (by delivery id), inside the caller's
    transaction: made if missing, its validity moved to 14 days from now if present.
    A first email's (the common case) are made in one statement that returns them."""
    expires = now + timedelta(days=VALID_DAYS)
    t = Invitation._meta.table_name
    p = database.param
    one = "(" + ", ".join([p] * 9) + ")"
    insert = (
        f"INSERT INTO {t} (recipient_id, patient_id, campaign_id, delivery_id, code, token, url, "
        "created_at, expires_at) VALUES {values} ON CONFLICT DO NOTHING"
    )

    def new(r: ForEmail) -> tuple:
        code = new_code()
        return (r.recipient_id, r.patient_id, r.campaign_id, r.delivery_id, code, secrets.token_urlsafe(32),
                link(app_url, code), now, expires)  # fmt: skip

    got: dict[int, InvitationInfo] = {}
    for i in range(0, len(rows), 500):
        made = {r.delivery_id: new(r) for r in rows[i : i + 500]}
        sql = insert.format(values=", ".join([one] * len(made))) + " RETURNING delivery_id"
        for (d,) in database.execute_sql(sql, [v for row in made.values() for v in row]).fetchall():
            got[d] = InvitationInfo(made[d][4], made[d][6], expires)
    # a retry (its invitation exists: the validity moves), or a code that collided
    rows = [r for r in rows if r.delivery_id not in got]
    ids = [r.delivery_id for r in rows]
    for _ in range(5):
        if not rows:
            return got
        have = {d for (d,) in Invitation.select(Invitation.delivery).where(Invitation.delivery.in_(ids)).tuples()}
        missing = [new(r) for r in rows if r.delivery_id not in have]
        if missing:
            # a code collision is skipped by ON CONFLICT, then tried again with a new code
            database.cursor().executemany(insert.format(values=one), missing)
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
