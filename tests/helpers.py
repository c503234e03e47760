"""Small builders for tests: patients straight into the directory, a Ctx with a clock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta

from core import emr
from core.context import Ctx, for_current_user
from core.models import Patient, database, utcnow


def add_patients(n: int, start: int = 1000, **overrides) -> list[str]:
    """n patients with EMR ids start..start+n-1, all eligible for everything unless overridden."""
    rows = []
    for i in range(start, start + n):
        row = dict(
            emr_id=str(i),
            first_name=f"Prénom{i}",
            last_name="Tremblay",
            email=f"p{i}@example.org",
            app_id=None,
            marketing_consent=True,
            push_enabled=True,
            do_not_contact=False,
            language="fr",
            search_name=f"prenom{i} tremblay",
        )
        row.update({k: (v(i) if callable(v) else v) for k, v in overrides.items()})
        row["emr_key"] = emr.key(row["emr_id"])
        rows.append(row)
    for chunk in range(0, len(rows), 500):
        Patient.insert_many(rows[chunk : chunk + 500]).execute()
    return [r["emr_id"] for r in rows]


class Clock:
    """A controllable clock (naive UTC) for Ctx."""

    def __init__(self, at: datetime | None = None):
        self.at = at or utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw) -> None:
        self.at += timedelta(**kw)


def ctx_at(config, at: datetime | None = None) -> tuple[Ctx, Clock]:
    clock = Clock(at)
    return for_current_user(config, clock=clock), clock


def set_schema_version(n: int) -> None:
    """Make the bound database claim schema version `n` (its migration history says so)."""
    from core import migrations
    from core.models import Meta, database

    table = migrations.HISTORY_TABLE
    for name in migrations.names():
        if migrations.number(name) > n:
            database.execute_sql(f"DELETE FROM {table} WHERE name = {database.param}", [name])
    if n > migrations.LATEST:
        database.execute_sql(
            f"INSERT INTO {table} (name, applied) VALUES ({database.param}, {database.param})",
            [f"{n:04d}_from_the_future", "2030-01-01 00:00:00"],
        )
    Meta.update(value=str(n)).where(Meta.key == "schema_version").execute()


def status_counts(campaign_id: int) -> dict[str, int]:
    """{recipient status: n} for a campaign, read straight from the database."""
    import peewee as pw

    from core.models import Recipient

    q = (
        Recipient.select(Recipient.status, pw.fn.COUNT(Recipient.id))
        .where(Recipient.campaign == campaign_id)
        .group_by(Recipient.status)
        .tuples()
    )
    return dict(q)


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL of every statement run through the database meanwhile (`execute_sql`,
    which models use too): a count of round trips, not a clock."""
    seen: list[str] = []
    real = database.obj.execute_sql

    def counting(sql, *a, **k):
        seen.append(sql)
        return real(sql, *a, **k)

    database.obj.execute_sql = counting
    try:
        yield seen
    finally:
        del database.obj.execute_sql


@contextlib.contextmanager
def speaking_french(folder, translations: dict) -> Iterator[None]:
    """French, from a catalogue of `translations` only ({msgid: str}, or for a plural
    {(singular, plural): (one, many)}) with French's plural rule (1 is singular, 2 is not):
    the words of a change whose .po entries are filled in after it lands, said as they
    will be. The language and $CLINICAST_LOCALEDIR are as before after the block."""
    import os
    from pathlib import Path

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from core import i18n

    catalog = Catalog(locale="fr", domain=i18n.DOMAIN, fuzzy=False)
    # core/locale/fr's rule, as its header says it (Babel's own French has three forms)
    catalog.mime_headers = [("Plural-Forms", "nplurals=2; plural=(n > 1);")]
    for msgid, string in translations.items():
        catalog.add(msgid, string)
    out = Path(folder) / "fr" / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{i18n.DOMAIN}.mo").open("wb") as f:
        write_mo(f, catalog)
    before, saved = i18n.current(), os.environ.get("CLINICAST_LOCALEDIR")
    os.environ["CLINICAST_LOCALEDIR"] = str(folder)
    try:
        i18n.use("fr")
        yield
    finally:
        if saved is None:
            os.environ.pop("CLINICAST_LOCALEDIR", None)
        else:
            os.environ["CLINICAST_LOCALEDIR"] = saved
        i18n.use(before)
