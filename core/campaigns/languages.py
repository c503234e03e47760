"""Which patients would get another language than their own (SPEC §3): a language
left blank in the template sends its speakers the clinic's default language. Staff
are told before they save or start such a campaign; the TUI and the CLI ask here.
And which versions a template file left out, kept as they were (templating.over)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core import formats
from core.campaigns.reads import get, get_templates
from core.context import Ctx
from core.enums import LANGUAGES, Permission, RecipientStatus
from core.i18n import _, ngettext
from core.models import Patient, Recipient
from core.templating.variables import LANGUAGE_NAMES


@dataclass(frozen=True)
class LanguageGap:
    """`patients` speak `language`, whose version is blank: they get `instead`.
    `among` is "recipients" (the campaign's) or "directory" (no recipient yet)."""

    language: str
    instead: str
    patients: int
    among: str

    def __str__(self) -> str:
        # one sentence for each count, so that « 1 destinataire … : ce destinataire
        # recevra » agrees from its first word to its last
        lang, instead = _(LANGUAGE_NAMES[self.language]), _(LANGUAGE_NAMES[self.instead])
        n = self.patients
        if self.among == "recipients":
            said = ngettext(
                "{n} recipient speaks {lang} and the {lang} version is empty: they will get the {instead} one",
                "{n} recipients speak {lang} and the {lang} version is empty: they will get the {instead} one",
                n,
            )
        else:
            said = ngettext(
                "{n} patient of the directory speaks {lang} and the {lang} version is empty: "
                "they will get the {instead} one",
                "{n} patients of the directory speak {lang} and the {lang} version is empty: "
                "they will get the {instead} one",
                n,
            )
        return said.format(n=formats.number(n), lang=lang, instead=instead)


@dataclass(frozen=True)
class KeptVersion:
    """A language a template file left out: its version was kept — as it was (an edit),
    or the default template (a new invitation)."""

    language: str
    default: bool

    def __str__(self) -> str:
        # a sentence for each language: « La version anglaise », an adjective that agrees
        if self.default:
            said = {
                "fr": _("The French version keeps the default template."),
                "en": _("The English version keeps the default template."),
            }
        else:
            said = {
                "fr": _("The French version is kept as it was."),
                "en": _("The English version is kept as it was."),
            }
        return said[self.language]


def kept_versions(
    ctx: Ctx, campaign_id: int | str, given: Mapping[str, Mapping[str, str]], *, created: bool
) -> list[KeptVersion]:
    """After saving the template file `given`: the written versions of the languages it
    left out (templating.over kept them), to be said with the save. A language left out
    that is blank is not "kept": `language_gaps` says what its speakers get."""
    ctx.require(Permission.CAMPAIGNS)
    saved = get_templates(ctx, get(campaign_id).id)
    return [
        KeptVersion(lang, default=created) for lang in LANGUAGES if lang not in given and not _blank(saved.get(lang))
    ]


def _blank(fields: Mapping[str, str] | None) -> bool:
    return not any(v and v.strip() for v in (fields or {}).values())


def language_gaps(
    ctx: Ctx, campaign_id: int | str, templates: Mapping[str, Mapping[str, str]] | None = None
) -> list[LanguageGap]:
    """For each blank language but the default: how many of the campaign's recipients
    (not removed) speak it — or, with no recipient yet, how many patients of the
    directory do (the audience it may get). `templates`: those about to be saved
    (None: the saved ones, before a start)."""
    ctx.require(Permission.CAMPAIGNS)
    c = get(campaign_id)
    if templates is None:
        templates = get_templates(ctx, c.id)
    default = ctx.config.clinic.default_language
    blank = [lang for lang in LANGUAGES if lang != default and _blank(templates.get(lang))]
    if not blank:
        return []
    on_campaign = Recipient.select().where(Recipient.campaign == c, Recipient.status != RecipientStatus.REMOVED)
    has_recipients = on_campaign.exists()
    gaps = []
    for lang in blank:
        if has_recipients:
            n = on_campaign.join(Patient).where(Patient.language == lang).count()
        else:
            n = Patient.select().where(Patient.language == lang).count()
        if n:
            gaps.append(LanguageGap(lang, default, n, "recipients" if has_recipients else "directory"))
    return gaps
