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

_CHUNK = 500


def new_token() -> str:
    return secrets.token_urlsafe(24)


def link(config, token: str) -> str:
    """The patient's link. `unsubscribe_url` is required for SMTP; a maildir setup (the
    demo, a dry run) without it gets a link under the app's address."""
    base = config.email.unsubscribe_url or f"{config.clinic.app_url.rstrip('/')}/unsubscribe"
    return f"{base.rstrip('/')}/{token}"


def first_insert(
    patient_ids: list[int], now: datetime, channel: OptOutChannel = OptOutChannel.EMAIL
) -> tuple[str, list]:
    """The statement that makes up to 500 patients' tokens where missing (ON CONFLICT keeps
    one that exists), RETURNING the (patient id, token) it made: its SQL and parameters.
    `ensure` runs it, or a caller that joins it to its own statement gives `ensure` its rows."""
    assert len(patient_ids) <= _CHUNK
    p = database.param
    made = [(pid, channel.value, new_token(), now) for pid in patient_ids]
    values = ", ".join([f"({p}, {p}, {p}, {p})"] * len(made))
    sql = (
        f"INSERT INTO {UnsubscribeToken._meta.table_name} (patient_id, channel, token, created_at) VALUES {values} "
        "ON CONFLICT DO NOTHING RETURNING patient_id, token"
    )
    return sql, [v for row in made for v in row]


def ensure(
    patient_ids: list[int],
    now: datetime,
    channel: OptOutChannel = OptOutChannel.EMAIL,
    made: dict[int, str] | None = None,
) -> dict[int, str]:
    """{patient id: token} for these patients, made where missing; inside the caller's
    transaction, in a few statements whatever the number. Made first, read after: a
    patient's first email (the usual) costs one statement, not a read that finds nothing
    and then an insert; a token that exists already (ON CONFLICT keeps it: an earlier
    email, another dispatcher making it at the same moment) is read back. `made`: what the
    caller's run of `first_insert` for these patients returned."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    got: dict[int, str] = dict(made or {})
    if made is None:
        for i in range(0, len(ids), _CHUNK):
            got.update(database.execute_sql(*first_insert(ids[i : i + _CHUNK], now, channel)).fetchall())
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
