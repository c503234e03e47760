"""Which patients would get another language than their own (SPEC §3): a language
left blank in the template sends its speakers the clinic's default language. Staff
are told before they save or start such a campaign; the TUI and the CLI ask here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core import formats
from core.campaigns.reads import get, get_templates
from core.context import Ctx
from core.enums import LANGUAGES, Permission, RecipientStatus
from core.i18n import N_, _, ngettext
from core.models import Patient, Recipient

LANGUAGE_NAMES = {"fr": N_("French"), "en": N_("English")}


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
