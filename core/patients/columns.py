"""The directory file's columns: the aliases each field is recognised by (English and
French, matched through `csvio.norm`), and the mapping of a file's header to fields.
Two columns that mean one field (`Prénom` and `first_name`, `Dossier` and `No dossier`)
refuse the file, as two columns of the same name do: which one holds the patients' values
is the clinic's to say, never guessed. One exception, the export's generic `ID` (a row
number of the record system's, as often as not) beside a column named as an EMR id
(`No dossier`, `MRN`…): the named one is the EMR id, `ID` is left out and said so."""

from __future__ import annotations

from core.csvio import Table, norm
from core.errors import BadInput
from core.i18n import _
from core.textcheck import quoted_value

ALIASES: dict[str, tuple[str, ...]] = {
    "emr_id": (
        "emr_id",
        "emr id",
        "emr",
        "emr no",
        "no emr",
        "no dossier",
        "numero de dossier",
        "numero dossier",
        "no de dossier",
        "dossier",
        "dossier patient",
        "chart",
        "chart no",
        "chart number",
        "chart id",
        "mrn",
        "medical record number",
        "patient_id",
        "id patient",
        "no patient",
        "numero patient",
        "patient no",
        "record id",
        "id",
    ),
    "first_name": ("first_name", "firstname", "first", "given name", "prenom", "prenom du patient"),
    "last_name": ("last_name", "lastname", "last", "surname", "family name", "nom", "nom de famille", "nom du patient"),
    "date_of_birth": (
        "date_of_birth",
        "date of birth",
        "birth_date",
        "birthdate",
        "dob",
        "birthday",
        "date de naissance",
        "date naissance",
        "naissance",
        "ddn",
    ),
    "sex": ("sex", "sexe", "gender", "genre"),
    "language": ("language", "lang", "preferred language", "langue", "langue de communication", "langue preferee"),
    "email": ("email", "e-mail", "email address", "courriel", "adresse courriel", "adresse electronique", "mail"),
    "phone": ("phone", "telephone", "phone number", "tel", "mobile", "cell", "cellulaire", "numero de telephone"),
    "app_id": (
        "app_id",
        "app account",
        "app account id",
        "patient app",
        "app",
        "compte app",
        "compte application",
        "id app",
        "app id",
        "compte patient",
    ),
    "marketing_consent": (
        "marketing_consent",
        "marketing",
        "consent",
        "consentement marketing",
        "consentement",
        "consentement communications",
    ),
    "push_enabled": (
        "push_enabled",
        "push",
        "push notifications",
        "notifications push",
        "notifications",
        "notification push",
    ),
    "do_not_contact": ("do_not_contact", "do not contact", "dnc", "ne pas contacter", "ne pas communiquer"),
    "practitioner": (
        "practitioner",
        "doctor",
        "physician",
        "provider",
        "praticien",
        "praticienne",
        "medecin",
        "md",
        "medecin traitant",
        "medecin de famille",
    ),
    "postal_code": ("postal_code", "postal code", "postcode", "zip", "code postal"),
    "last_visit": (
        "last_visit",
        "last visit",
        "last visit date",
        "derniere visite",
        "date derniere visite",
        "date de derniere visite",
    ),
}
FIELDS = tuple(ALIASES)
GENERIC_ID = norm("id")  # an EMR id only when no column is named as one
_FIELD_OF: dict[str, str] = {}  # normalised alias -> field
for _f, _names in ALIASES.items():
    for _n in _names:
        _FIELD_OF.setdefault(norm(_n), _f)


def map_columns(table: Table) -> tuple[dict[str, str], list[str]]:
    """({field: normalised column}, [ignored columns as written]) for a table. Raises
    BadInput naming both columns and the field when two columns mean one field."""
    found: dict[str, str] = {}  # field -> normalised column
    position = {norm(h): n for n, h in enumerate(table.header, 1) if norm(h)}
    for key in table.columns:
        field = _FIELD_OF.get(key)
        if field is None:
            continue
        first = found.setdefault(field, key)
        if first != key and field == "emr_id" and GENERIC_ID in (first, key):
            found[field] = key if first == GENERIC_ID else first  # the column named as an EMR id
            continue
        if first != key:
            raise BadInput(
                _("{where}: columns {a} {a_name} and {b} {b_name} both mean {field}; rename or remove one").format(
                    where=table.where(table.header_line),
                    a=position[first],
                    a_name=quoted_value(table.columns[first]),
                    b=position[key],
                    b_name=quoted_value(table.columns[key]),
                    field=field,
                )
            )
    used = set(found.values())
    ignored = [table.columns[k] for k in table.columns if k not in used]
    return {f: found[f] for f in FIELDS if f in found}, ignored
