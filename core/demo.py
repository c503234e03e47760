"""`clinicast demo`: a throw-away database with realistic patients and three campaigns,
local sinks (a maildir and a gateway log) and the embedded scheduler, in one folder.
It only ever writes inside that folder: emails are files, gateway calls are log lines.

`prepare(folder)` builds it and returns the config path. `populate()` is also used by
the TUI tests and the benchmark, with fewer patients and a frozen clock.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core import campaigns, fakedata, recipients
from core import config as cfg
from core import db as dbmod
from core.context import Ctx, for_current_user, login_name

DEMO_PATIENTS = 2000
DEMO_SEED = 7

BROADCAST_TEMPLATES = {
    "fr": {
        "title": "Nouvelle médecin à la clinique",
        "body": (
            "Bonjour,\n\n"
            "La **Dre Maude Girard** se joint à {{ clinic.name }} dès le {{ campaign.starts_on }}. "
            "Elle accepte de nouveaux patients.\n\n"
            "- prise de rendez-vous dans l'application\n"
            "- ou au {{ clinic.phone }}\n"
        ),
        "push": (
            "{{ clinic.name }} : une nouvelle médecin accepte des patients. Ouvrez l'application pour les détails."
        ),
    },
    "en": {
        "title": "A new doctor at the clinic",
        "body": (
            "Hello,\n\n"
            "**Dr. Maude Girard** joins {{ clinic.name }} on {{ campaign.starts_on }} "
            "and is accepting new patients.\n\n"
            "- book in the app\n"
            "- or call {{ clinic.phone }}\n"
        ),
        "push": ("{{ clinic.name }}: a new doctor is accepting patients. Open the app for details."),
    },
}


def config_text(
    folder: Path,
    *,
    db_url: str | None = None,
    embedded: str = "always",
    tick_seconds: float = 1,
    login: str | None = None,
) -> str:
    folder = Path(folder).resolve()
    login = login or login_name()
    db_url = db_url or f"sqlite:///{(folder / 'clinicast.db').as_posix().lstrip('/')}"
    return textwrap.dedent(f"""\
        # clinicast demo: everything stays in this folder; nothing leaves the machine.
        [clinic]
        name = "Clinique du Parc"
        phone = "514-555-0100"
        address = "1234 rue Saint-Denis, Montréal QC"
        app_url = "https://app.example.org/join"
        timezone = "America/Toronto"
        default_language = "fr"

        [database]
        url = "{db_url}"

        [email]
        transport = "maildir"            # each email is a file under this folder
        path = "{(folder / "maildir").as_posix()}"
        from = "Clinique du Parc <no-reply@example.org>"

        [gateway]
        transport = "log"                # each app gateway call is a line in this file
        path = "{(folder / "gateway.log").as_posix()}"

        [scheduler]
        embedded = "{embedded}"
        tick_seconds = {tick_seconds}
        backoff_base_seconds = 2

        # a demo sends at any hour, so that trying it at night shows something; a clinic
        # keeps the default 09:00-20:00, Monday to Saturday (SPEC §11)
        [sending]
        hours = "00:00-24:00"
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

        [users.{login}]
        name = "{login}"
        permissions = ["campaigns", "admin"]
        """)


@dataclass
class DemoCampaigns:
    invitation_draft: int
    broadcast_live: int
    invitation_sent: int


def add_patients(ctx: Ctx, n: int, seed: int = DEMO_SEED, folder: Path | None = None) -> int:
    """Import `n` generated patients through the directory import (as an EMR export would)."""
    from core.patients.upsert import import_csv

    folder = Path(folder) if folder else Path(ctx.config.path or "clinicast.toml").parent
    csv_path = folder / "demo-patients.csv"
    fakedata.write_csv(csv_path, fakedata.generate(n, seed, today=ctx.today()), french_headers=True)
    result = import_csv(ctx, csv_path)
    return result.total


def where(text: str):
    from core import conditions

    return conditions.parse(text)


def populate(
    ctx: Ctx,
    n_patients: int = DEMO_PATIENTS,
    seed: int = DEMO_SEED,
    folder: Path | None = None,
    *,
    start_sent: bool = True,
) -> DemoCampaigns:
    """Patients and the three demo campaigns: a draft invitation, a live broadcast with
    recipients, an invitation already started (its emails go out through the scheduler)."""
    add_patients(ctx, n_patients, seed, folder)
    today = ctx.today()
    draft = campaigns.create(ctx, "invitation", "Invitation à l'application — printemps")
    live = campaigns.create(
        ctx,
        "broadcast",
        "Nouvelle médecin : Dre Girard",
        starts_on=today - timedelta(days=2),
        ends_on=today + timedelta(days=12),
        templates=BROADCAST_TEMPLATES,
    )
    recipients.assign_conditions(ctx, live.id, [where("connected_system = patient_app"), where("age >= 18")])
    sent = campaigns.create(ctx, "invitation", "Invitation — patients du Dr Gagnon")
    recipients.assign_conditions(
        ctx, sent.id, [where("connected_system != patient_app"), where("practitioner contains Gagnon")]
    )
    if start_sent:
        recipients.start(ctx, sent.id)
        send_due(ctx)
    return DemoCampaigns(draft.id, live.id, sent.id)


def send_due(ctx: Ctx) -> None:
    """Deliver what is due now through the configured (local) sinks, once."""
    from core.delivery import Dispatcher

    with Dispatcher(ctx.config, name="demo-setup", clock=ctx.clock) as d:
        d.run_once()


def prepare(folder: str | Path, *, n_patients: int = DEMO_PATIENTS) -> Path:
    """Create the demo in `folder` (made if missing) and return its config path."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "clinicast.toml"
    path.write_text(config_text(folder), encoding="utf-8")
    config = cfg.load(path)
    dbmod.bind(config.database.url)
    dbmod.migrate()
    ctx = for_current_user(config)
    populate(ctx, n_patients, folder=folder)
    return path
