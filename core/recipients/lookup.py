"""Finding patients and recipients by EMR id (compared by `core.emr.key`)."""

from __future__ import annotations

from core import emr
from core.db import is_postgres
from core.errors import NotFound
from core.i18n import _
from core.models import Campaign, Patient, Recipient, database
from core.textcheck import quoted_value


def known_keys(keys: list[str]) -> set[str]:
    """The EMR id keys that are in the patient directory (in chunks: SQLite caps
    parameters). Plain SQL: peewee building an IN list of 5,000 parameters took longer
    than the database answering it (issue #21)."""
    known: set[str] = set()
    t, p = Patient._meta.table_name, database.param
    if is_postgres():  # one array parameter
        return {k for (k,) in database.execute_sql(f"SELECT emr_key FROM {t} WHERE emr_key = ANY({p})", (keys,))}
    for start in range(0, len(keys), 10000):
        chunk = keys[start : start + 10000]
        sql = f"SELECT emr_key FROM {t} WHERE emr_key IN ({', '.join([p] * len(chunk))})"
        known.update(k for (k,) in database.execute_sql(sql, chunk))
    return known


def patient_query(emr_id: str):
    return Patient.select(Patient.id).where(Patient.emr_key == emr.key(emr_id))


def recipient(c: Campaign, emr_id: str) -> Recipient:
    r = Recipient.select().join(Patient).where(Recipient.campaign == c, Patient.emr_key == emr.key(emr_id)).first()
    if r is None:
        raise NotFound(
            _("patient {emr_id} is not a recipient of campaign {id}").format(
                emr_id=quoted_value(emr_id.strip()), id=c.id
            )
        )
    return r
