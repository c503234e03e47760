"""Campaign templates: variable catalogue, sandboxed Jinja2, validation and rendering.

Pure functions on plain data: no database, no Textual.

Every ``{{ expression }}`` output is inserted as literal text: in Markdown bodies its
Markdown punctuation is backslash-escaped before conversion, and inside a code span or
an autolink (where CommonMark keeps a backslash) it is written as it is, under a fence
it cannot close, so a patient value can add neither a link, nor formatting, nor HTML to
an email or a feed message, and a code or a link reads exactly. The text and HTML parts
of an email come from the same parsed Markdown. Dates join their words with no-break
spaces.

    variables.py   the catalogue (kinds, fields, languages, variables); build_context
    fields.py      one field: sandboxed Jinja2, references checked, rendered to text
    validation.py  validate, validate_set (at save, with example values); pick_language
    rendering.py   render: Markdown -> text and HTML for an email; a broadcast's parts
    prepared.py    an invitation for many patients: parsed and rendered once, values put in
    files.py       load_template_file (TOML); over: what a file leaves out is kept
    sandbox.py     the render budget and the sandbox's hardening, at save and at send
    jinjawords.py  a template's mistake (Jinja's, Python's English) in the staff's words
    defaults.py    the prefilled invitation, in French and English

Dates' range is `core.dates`.
"""

from __future__ import annotations

from core.templating.defaults import DEFAULT_INVITATION
from core.templating.fields import TemplateRenderError
from core.templating.files import TemplateFileError, load_template_file, over
from core.templating.rendering import Rendered, render
from core.templating.validation import TemplateProblem, pick_language, validate, validate_set
from core.templating.variables import (
    FIELDS,
    KINDS,
    LANGUAGES,
    PUSH_MAX_CHARS,
    VARIABLES,
    TemplateSet,
    Variable,
    build_context,
    format_date,
    sample_context,
    variables_for,
)

__all__ = [
    "DEFAULT_INVITATION",
    "FIELDS",
    "KINDS",
    "LANGUAGES",
    "PUSH_MAX_CHARS",
    "VARIABLES",
    "Rendered",
    "TemplateFileError",
    "TemplateProblem",
    "TemplateRenderError",
    "TemplateSet",
    "Variable",
    "build_context",
    "format_date",
    "load_template_file",
    "over",
    "pick_language",
    "render",
    "sample_context",
    "validate",
    "validate_set",
    "variables_for",
]
