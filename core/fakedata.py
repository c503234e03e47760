"""Deterministic, realistic bilingual (Québec) patients for the demo, tests and benchmarks.

Every address is under example.org/.com/.net and every phone number is a 555 number,
so nothing generated here can reach a real person.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

REFERENCE_DAY = date(2025, 6, 2)  # ages and visits are relative to this day unless told

FR_FIRST_F = [
    "Marie",
    "Sophie",
    "Émilie",
    "Chloé",
    "Léa",
    "Camille",
    "Zoé",
    "Noémie",
    "Hélène",
    "Josée",
    "Geneviève",
    "Isabelle",
    "Amélie",
    "Mélanie",
    "Marie-Ève",
    "Nathalie",
    "Julie",
    "Catherine",
    "Audrey",
    "Rosalie",
    "Béatrice",
    "Maude",
]
FR_FIRST_M = [
    "Jean",
    "Mathieu",
    "François",
    "Gabriel",
    "Olivier",
    "Félix",
    "Étienne",
    "Benoît",
    "Stéphane",
    "Maxime",
    "Louis",
    "Jérôme",
    "Samuel",
    "Alexandre",
    "Jean-François",
    "Luc",
    "Raphaël",
    "Hugo",
    "Thomas",
    "Éric",
    "André",
    "Guy",
]
EN_FIRST_F = [
    "Emily",
    "Sarah",
    "Jessica",
    "Emma",
    "Olivia",
    "Hannah",
    "Megan",
    "Laura",
    "Rachel",
    "Grace",
    "Chloe",
    "Anna",
    "Linda",
    "Susan",
    "Priya",
    "Mei",
]
EN_FIRST_M = [
    "John",
    "Michael",
    "David",
    "James",
    "Daniel",
    "Ryan",
    "Kevin",
    "Liam",
    "Noah",
    "Ethan",
    "Robert",
    "William",
    "Patrick",
    "Sean",
    "Arjun",
    "Wei",
]
FR_LAST = [
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
    "Gagné",
    "Ouellet",
    "Pelletier",
    "Bélanger",
    "Lévesque",
    "Bergeron",
    "Leblanc",
    "Paquette",
    "Girard",
    "Simard",
    "Boucher",
    "Caron",
    "Beaulieu",
    "Cloutier",
    "Dubé",
    "Poirier",
    "Fournier",
    "Lapointe",
    "Leclerc",
    "Lefebvre",
    "Poulin",
    "Thibault",
    "St-Pierre",
    "Nadeau",
    "Landry",
    "Martel",
    "Bédard",
    "Grenier",
    "Lessard",
    "Bernier",
    "Michaud",
    "Hébert",
    "Desjardins",
    "Couture",
    "Turcotte",
    "Lachance",
    "Gosselin",
    "Savard",
    "Proulx",
    "Demers",
    "Boudreau",
]
EN_LAST = [
    "Smith",
    "Brown",
    "Wilson",
    "Johnson",
    "Williams",
    "Taylor",
    "Campbell",
    "Anderson",
    "Jones",
    "MacDonald",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Nguyen",
    "Singh",
    "Wong",
    "Chen",
    "Haddad",
    "Khoury",
    "Patel",
    "Stewart",
    "Thompson",
]
PRACTITIONERS = [
    "Dre Émilie Côté",
    "Dr Jean-François Gagnon",
    "Dre Sarah Wilson",
    "Dr Mathieu Bélanger",
    "Dre Nathalie Lévesque",
    "Dr David Chen",
    "Dre Isabelle Fortin",
    "Dr Patrick Murphy",
]
FSAS = ["H2X", "H2J", "H2T", "H2V", "H3A", "H3H", "H1V", "H4B", "H2L", "H1Y", "H7N", "H7W", "J4K", "J4H", "J7H", "H9R"]
AREA_CODES = ["514", "438", "450", "579", "819", "418"]
DOMAINS = ["example.org", "example.com", "example.net"]

FIELDS = [
    "emr_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "language",
    "email",
    "phone",
    "app_id",
    "marketing_consent",
    "push_enabled",
    "do_not_contact",
    "practitioner",
    "postal_code",
    "last_visit",
]
FRENCH_HEADERS = {
    "emr_id": "No dossier",
    "first_name": "Prénom",
    "last_name": "Nom",
    "date_of_birth": "Date de naissance",
    "sex": "Sexe",
    "language": "Langue",
    "email": "Courriel",
    "phone": "Téléphone",
    "app_id": "Compte app",
    "marketing_consent": "Consentement marketing",
    "push_enabled": "Notifications push",
    "do_not_contact": "Ne pas contacter",
    "practitioner": "Médecin",
    "postal_code": "Code postal",
    "last_visit": "Dernière visite",
}

_ASCII = str.maketrans("àâäçéèêëîïôöùûüÿÀÂÄÇÉÈÊËÎÏÔÖÙÛÜ'", "aaaceeeeiioouuuyAAACEEEEIIOOUUU-")


def _ascii(s: str) -> str:
    return s.translate(_ASCII).replace(" ", "").lower()


def generate(n: int, seed: int = 1, *, today: date = REFERENCE_DAY, first_emr: int = 100001) -> list[dict]:
    """`n` patients as dicts keyed by FIELDS (dates as `date` or None, booleans as bool,
    app_id None when not on the app). Same (n, seed, today) -> same patients."""
    return list(iter_patients(n, seed, today=today, first_emr=first_emr))


def iter_patients(n: int, seed: int = 1, *, today: date = REFERENCE_DAY, first_emr: int = 100001) -> Iterator[dict]:
    """`generate`'s patients one at a time (a million of them never sit in memory at once)."""
    rnd = random.Random(seed)
    for i in range(n):
        fr = rnd.random() < 0.6
        sex = rnd.choices(["F", "M", "X"], weights=[51, 48, 1])[0]
        female = sex == "F" or (sex == "X" and rnd.random() < 0.5)
        if fr:
            first = rnd.choice(FR_FIRST_F if female else FR_FIRST_M)
            last = rnd.choice(FR_LAST) if rnd.random() < 0.9 else rnd.choice(EN_LAST)
        else:
            first = rnd.choice(EN_FIRST_F if female else EN_FIRST_M)
            last = rnd.choice(EN_LAST) if rnd.random() < 0.75 else rnd.choice(FR_LAST)
        # ages 0-100, fewer of the very old
        age_days = int(rnd.triangular(0, 100 * 365.25, 35 * 365.25))
        dob = today - timedelta(days=age_days) if rnd.random() > 0.01 else None
        on_app = rnd.random() < 0.4
        has_email = rnd.random() < (0.97 if on_app else 0.82)
        email = f"{_ascii(first)}.{_ascii(last)}{rnd.randint(1, 999)}@{rnd.choice(DOMAINS)}" if has_email else ""
        last_visit = today - timedelta(days=rnd.randint(0, 5 * 365)) if rnd.random() > 0.03 else None
        yield (
            {
                "emr_id": str(first_emr + i),
                "first_name": first,
                "last_name": last,
                "date_of_birth": dob,
                "sex": sex,
                "language": "fr" if fr else "en",
                "email": email,
                "phone": f"{rnd.choice(AREA_CODES)}-555-{rnd.randint(0, 9999):04d}" if rnd.random() < 0.95 else "",
                "app_id": f"app-{rnd.getrandbits(48):012x}" if on_app else None,
                "marketing_consent": rnd.random() < 0.65,
                "push_enabled": on_app and rnd.random() < 0.75,
                "do_not_contact": rnd.random() < 0.02,
                "practitioner": rnd.choice(PRACTITIONERS),
                "postal_code": (
                    f"{rnd.choice(FSAS)} {rnd.randint(1, 9)}{rnd.choice('ABCEGHJKLMNPRSTVXY')}{rnd.randint(0, 9)}"
                ),
                "last_visit": last_visit,
            }
        )


def _cell(v, french: bool) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return ("oui" if v else "non") if french else ("yes" if v else "no")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def write_csv(
    path: os.PathLike | str,
    rows: Iterable[dict],
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
    french_headers: bool = False,
    columns: list[str] | None = None,
) -> None:
    """Write `rows` (from generate(), or any dicts with those keys) as an EMR export would:
    a header row, then one row a patient, Excel-style quoting (`csv.QUOTE_MINIMAL`).
    `rows` may be an iterator (`iter_patients`): the file is written as they come."""
    it = iter(rows)
    first = next(it, None)
    columns = columns or [c for c in FIELDS if first is None or c in first]
    header = [FRENCH_HEADERS.get(c, c) if french_headers else c for c in columns]
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator="\r\n")
        w.writerow(header)
        for r in itertools.chain([first] if first is not None else [], it):
            w.writerow([_cell(r.get(c), french_headers) for c in columns])
