"""Personal unsubscribe links (SPEC §10): one token per patient and channel, made the
first time an email is handed over to them and reused by every later one, so any link
a patient ever received keeps working.

A token is `secrets.token_urlsafe(24)` (192 random bits): unguessable, so it is stored
as is and names the patient when the gateway's opt-out feed reports a click. The link
is `<[email] unsubscribe_url>/<token>`.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from core.enums import OptOutChannel
from core.models import UnsubscribeToken, database


def new_token() -> str:
    return secrets.token_urlsafe(24)


def link(config, token: str) -> str:
    """The patient's link. `unsubscribe_url` is required for SMTP; a maildir setup (the
    demo, a dry run) without it gets a link under the app's address."""
    base = config.email.unsubscribe_url or f"{config.clinic.app_url.rstrip('/')}/unsubscribe"
    return f"{base.rstrip('/')}/{token}"


def ensure(patient_ids: list[int], now: datetime, channel: OptOutChannel = OptOutChannel.EMAIL) -> dict[int, str]:
    """{patient id: token} for these patients, made where missing; inside the caller's
    transaction, in a few statements whatever the number. Made first, read after: a
    patient's first email (the usual) costs one statement, not a read that finds nothing
    and then an insert; a token that exists already (ON CONFLICT keeps it: an earlier
    email, another dispatcher making it at the same moment) is read back."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    got: dict[int, str] = {}
    t = UnsubscribeToken._meta.table_name
    p = database.param
    for i in range(0, len(ids), 500):
        made = [(pid, channel.value, new_token(), now) for pid in ids[i : i + 500]]
        values = ", ".join([f"({p}, {p}, {p}, {p})"] * len(made))
        got.update(
            database.execute_sql(
                f"INSERT INTO {t} (patient_id, channel, token, created_at) VALUES {values} "
                "ON CONFLICT DO NOTHING RETURNING patient_id, token",
                [v for row in made for v in row],
            ).fetchall()
        )
    had = [pid for pid in ids if pid not in got]
    if had:
        got.update(_read(had, channel))
    return got


def _read(ids: list[int], channel: OptOutChannel) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 900):
        q = UnsubscribeToken.select(UnsubscribeToken.patient, UnsubscribeToken.token).where(
            UnsubscribeToken.patient.in_(ids[i : i + 900]), UnsubscribeToken.channel == channel
        )
        out.update(dict(q.tuples()))
    return out


def owner(token: str) -> tuple[int, str] | None:
    """(patient id, channel) of a token, or None for a token clinicast never made."""
    row = (
        UnsubscribeToken.select(UnsubscribeToken.patient, UnsubscribeToken.channel)
        .where(UnsubscribeToken.token == token)
        .tuples()
        .first()
    )
    return (row[0], row[1]) if row else None
