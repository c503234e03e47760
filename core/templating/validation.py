"""Validation at save, without real data: each field parsed, its references checked,
rendered with example values; which languages must be complete; the language a
patient gets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.enums import Kind
from core.i18n import N_, _
from core.templating.fields import TemplateRenderError, _analyse, _markdown_literal, _render_field
from core.templating.variables import (
    FIELDS,
    LANGUAGES,
    UNSUBSCRIBE_EXAMPLE,
    VERSION_NAMES,
    _a,
    _check_kind,
    _check_language,
    longest_date,
    sample_context,
)

# --- validation --------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateProblem:
    """One problem in one template field; str() gives 'French version, body line 3: message'
    (the version as staff read it, not the language's code)."""

    language: str
    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        from core.templating.fields import field_words

        field = field_words(self.field)
        version = _(VERSION_NAMES[self.language]) if self.language in VERSION_NAMES else self.language
        if self.line:
            return _("{version}, {field} line {line}: {message}").format(
                version=version, field=field, line=self.line, message=self.message
            )
        return _("{version}, {field}: {message}").format(version=version, field=field, message=self.message)


def validate(
    kind: str, fields: Mapping[str, str], language: str, clinic: Mapping[str, Any] | None = None
) -> list[TemplateProblem]:
    """Problems of one language's templates, found without real data.

    Each field is parsed, its variable references checked against the catalogue,
    then rendered with `sample_context` (the rendered push is what is measured), the
    campaign's dates the longest the language writes: whatever dates the campaign
    has when it is sent, its push is no longer than measured here.
    """
    _check_kind(kind)
    context = sample_context(kind, language, clinic)
    if "campaign" in context:
        context["campaign"] = dict.fromkeys(context["campaign"], longest_date(language))
    problems = []

    def problem(field: str, line: int | None, message: str) -> None:
        problems.append(TemplateProblem(language, field, line, message))

    for field in fields:
        if field not in FIELDS[kind]:
            problem(field, None, _("not a field of {kind}").format(kind=_a(kind)))
    for field in FIELDS[kind]:
        source = fields.get(field) or ""
        if not source.strip():
            problem(field, None, _("is empty"))
            continue
        _template, static = _analyse(kind, field, source)
        for line, message in static:
            problem(field, line, message)
        if not static:
            try:
                text = _render_field(kind, field, source, context)
            except TemplateRenderError as error:
                problem(field, error.line, error.message)
                continue
            if kind == Kind.INVITATION and field == "body":
                # as literal text, or as it is in an autolink or code: `<{{ unsubscribe.url }}>`
                way_out = (_markdown_literal(UNSUBSCRIBE_EXAMPLE), UNSUBSCRIBE_EXAMPLE)
                if not any(w in text for w in way_out):
                    problem(field, None, _(UNSUBSCRIBE_MISSING))
                invitation = context["invitation"]
                ways_in = [f(invitation[key]) for key in ("url", "code") for f in (_markdown_literal, str)]
                if not any(w in text for w in ways_in):
                    problem(field, None, _(INVITATION_MISSING))
    return problems


UNSUBSCRIBE_MISSING = N_(
    "must carry the patient's unsubscribe link {{ unsubscribe.url }}: every email needs a way out (SPEC §10)"
)
INVITATION_MISSING = N_(
    "must carry the patient's invitation link {{ invitation.url }} or code {{ invitation.code }}: "
    "without them the patient cannot join the app (SPEC §2)"
)


def validate_set(
    kind: str,
    templates: Mapping[str, Mapping[str, str]],
    default_language: str | None = None,
    clinic: Mapping[str, Any] | None = None,
) -> list[TemplateProblem]:
    """Problems across languages. A language left entirely blank is skipped (its
    patients get the default language), except `default_language`, which must be
    complete; if nothing at all is written, every language is reported."""
    _check_kind(kind)
    for language in templates:
        _check_language(language)
    required = {lang for lang in LANGUAGES if _is_filled(templates.get(lang, {}))}
    if default_language is not None:
        required.add(default_language)
    problems = []
    for language in LANGUAGES:
        if language in required or not required:
            problems += validate(kind, templates.get(language, {}), language, clinic)
    return problems


def pick_language(
    templates: Mapping[str, Mapping[str, str]], patient_language: str | None, default_language: str
) -> str:
    """The patient's language if its templates are written, else the clinic default."""
    if patient_language in LANGUAGES and _is_filled(templates.get(patient_language, {})):
        return patient_language
    return default_language


def _is_filled(fields: Mapping[str, str]) -> bool:
    return any(source and source.strip() for source in fields.values())
