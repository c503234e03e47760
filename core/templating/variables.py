"""The variable catalogue (which variable, in which kind and field) and the context a
template is rendered with: exactly the documented variables, as strings, dates written
in the patient's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from core.enums import Kind, Language
from core.i18n import N_, _

LANGUAGES = ("fr", "en")
# A language's name (« parle français ») and its version of a template (« version
# française »): French makes the adjective agree with "version", so each is its own words.
LANGUAGE_NAMES = {"fr": N_("French"), "en": N_("English")}
VERSION_NAMES = {"fr": N_("French version"), "en": N_("English version")}
FIELDS: dict[str, tuple[str, ...]] = {
    "invitation": ("subject", "body"),
    "broadcast": ("title", "body", "push"),
}
KINDS = tuple(FIELDS)
# One content for the whole audience (SPEC §3): the gateway stores one title and body per
# language, and a push shows on a locked phone screen, so no patient data in any of them.
SHARED_FIELDS: dict[str, tuple[str, ...]] = {"broadcast": ("title", "body", "push")}
PUSH_MAX_CHARS = 178

TemplateSet = dict[str, dict[str, str]]
"""language -> field -> template source."""


# --- variables ---------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One documented template variable."""

    name: str
    description: str
    example: str | date
    kinds: tuple[str, ...]

    @property
    def description_words(self) -> str:
        """The description (an N_ msgid) in the language in use."""
        return _(self.description)

    @property
    def group(self) -> str:
        return self.name.partition(".")[0]

    @property
    def key(self) -> str:
        return self.name.partition(".")[2]

    @property
    def per_patient(self) -> bool:
        """Whether the value differs from one recipient to the next."""
        return self.group in ("patient", "invitation", "unsubscribe")

    def example_in(self, language: str) -> str:
        if isinstance(self.example, date):
            return format_date(self.example, language)
        return self.example


# every email must carry the patient's own way out (SPEC §10, CASL)
UNSUBSCRIBE_EXAMPLE = "https://app.example.org/unsubscribe/Xk3J9pQ2vR7tW4yZ8aB1cD5eF6gH0iJ2"
_BOTH, _INVITATION, _BROADCAST = ("invitation", "broadcast"), ("invitation",), ("broadcast",)
VARIABLES: list[Variable] = [
    Variable("patient.first_name", N_("Patient's first name"), "Marie-Ève", _BOTH),
    Variable("patient.last_name", N_("Patient's last name"), "Tremblay", _BOTH),
    Variable("patient.language", N_("Patient's language code (fr or en)"), "fr", _BOTH),
    Variable("clinic.name", N_("Clinic name"), "Clinique du Parc", _BOTH),
    Variable("clinic.phone", N_("Clinic phone number"), "514-555-0100", _BOTH),
    Variable("clinic.address", N_("Clinic address"), "1234 rue Saint-Denis, Montréal QC", _BOTH),
    Variable("clinic.app_url", N_("Address of the patient app"), "https://app.example.org/join", _BOTH),
    Variable("invitation.url", N_("Personal invitation link"), "https://app.example.org/join/K7P2QX4M", _INVITATION),
    Variable("invitation.code", N_("Personal invitation code"), "K7P2-QX4M", _INVITATION),
    Variable("invitation.expires_on", N_("Last day the invitation is valid"), date(2026, 12, 24), _INVITATION),
    Variable(
        "unsubscribe.url", N_("Personal unsubscribe link (required in every email)"), UNSUBSCRIBE_EXAMPLE, _INVITATION
    ),
    Variable("campaign.starts_on", N_("First day of the broadcast"), date(2026, 12, 1), _BROADCAST),
    Variable("campaign.ends_on", N_("Last day of the broadcast"), date(2026, 12, 24), _BROADCAST),
]
_BY_NAME = {v.name: v for v in VARIABLES}
_GROUPS = {v.group for v in VARIABLES}


def variables_for(kind: str, field: str | None = None) -> list[Variable]:
    """The variables usable in `kind` templates (in `field`, when given)."""
    _check_kind(kind)
    shared_fields = SHARED_FIELDS.get(kind, ())
    shared = field in shared_fields if field else set(FIELDS[kind]) <= set(shared_fields)
    return [v for v in VARIABLES if kind in v.kinds and not (shared and v.per_patient)]


# --- context -----------------------------------------------------------------------

_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


NBSP = "\u00a0"


def format_date(day: date, language: str) -> str:
    """'24 décembre 2026' / 'December 24, 2026' (French writes the 1st as '1er'), its
    words joined by no-break spaces: a mail client or a phone never wraps inside a date."""
    _check_language(language)
    month = _MONTHS[language][day.month - 1]
    if language == Language.FR:
        return f"{'1er' if day.day == 1 else day.day}{NBSP}{month}{NBSP}{day.year}"
    return f"{month}{NBSP}{day.day},{NBSP}{day.year}"


@cache
def longest_date(language: str) -> str:
    """The longest date `language` writes (« 1er septembre 2026 »): what a push's
    length is measured with at save."""
    return max((format_date(date(2026, 1, 1) + timedelta(days=n), language) for n in range(365)), key=len)


def build_context(
    *,
    clinic: Mapping[str, Any],
    patient: Mapping[str, Any] | None,
    campaign: Mapping[str, Any],
    invitation: Mapping[str, Any] | None,
    language: str,
    unsubscribe: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, str]]:
    """The template context: exactly the documented variables, as strings.

    Missing or None clinic and patient values render empty. Campaign dates (date
    objects, already in the clinic's time zone) are taken when not None; `invitation`
    needs url, code and expires_on. Dates are written in `language`.
    """
    _check_language(language)
    context = {"clinic": _group("clinic", clinic)}
    if patient is not None:
        context["patient"] = _group("patient", patient)
    dates = {k: format_date(campaign[k], language) for k in ("starts_on", "ends_on") if campaign.get(k) is not None}
    if dates:
        context["campaign"] = dates
    if invitation is not None:
        context["invitation"] = {
            "url": str(invitation["url"]),
            "code": str(invitation["code"]),
            "expires_on": format_date(invitation["expires_on"], language),
        }
    if unsubscribe is not None:
        context["unsubscribe"] = {"url": str(unsubscribe["url"])}
    return context


def _group(group: str, values: Mapping[str, Any]) -> dict[str, str]:
    keys = [v.key for v in VARIABLES if v.group == group]
    return {k: "" if values.get(k) is None else str(values[k]) for k in keys}


def sample_context(kind: str, language: str, clinic: Mapping[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """A context of example values, for validation and for a preview without a patient.

    `clinic` (the configured clinic values) replaces the example clinic when given.
    """
    _check_kind(kind)

    def examples(group: str) -> dict[str, Any]:
        return {v.key: v.example for v in VARIABLES if v.group == group}

    return build_context(
        clinic=examples("clinic") if clinic is None else clinic,
        patient={**examples("patient"), "language": language},
        campaign=examples("campaign") if kind == Kind.BROADCAST else {},
        invitation=examples("invitation") if kind == Kind.INVITATION else None,
        language=language,
        unsubscribe=examples("unsubscribe") if kind == Kind.INVITATION else None,
    )


def _check_kind(kind: str) -> None:
    if kind not in FIELDS:
        raise ValueError(f"unknown campaign kind {kind!r}; expected one of {', '.join(KINDS)}")


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")


def _a(kind: str) -> str:
    """« une invitation », "a broadcast": a campaign of `kind`, in the language in use."""
    if kind == "invitation":
        return _("an invitation")
    if kind == "broadcast":
        return _("a broadcast")
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
