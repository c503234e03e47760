"""Campaign templates: variable catalogue, sandboxed Jinja2, validation and rendering.

Pure functions on plain data: no database, no Textual.

Every ``{{ expression }}`` output is inserted as literal text: in Markdown bodies its
Markdown punctuation is backslash-escaped before conversion, so a patient value can
add neither a link, nor formatting, nor HTML to an email or a feed message. The text
and HTML parts of an email come from the same parsed Markdown.
"""

from __future__ import annotations

import difflib
import html
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, UndefinedError, nodes
from jinja2.sandbox import SecurityError
from markdown_it import MarkdownIt
from markdown_it.token import Token

from core import infile, sandbox
from core.default_templates import DEFAULT_INVITATION
from core.errors import BadInput

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
    "pick_language",
    "render",
    "sample_context",
    "validate",
    "validate_set",
    "variables_for",
]

LANGUAGES = ("fr", "en")
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
    Variable("patient.first_name", "Patient's first name", "Marie-Ève", _BOTH),
    Variable("patient.last_name", "Patient's last name", "Tremblay", _BOTH),
    Variable("patient.language", "Patient's language code (fr or en)", "fr", _BOTH),
    Variable("clinic.name", "Clinic name", "Clinique du Parc", _BOTH),
    Variable("clinic.phone", "Clinic phone number", "514-555-0100", _BOTH),
    Variable("clinic.address", "Clinic address", "1234 rue Saint-Denis, Montréal QC", _BOTH),
    Variable("clinic.app_url", "Address of the patient app", "https://app.example.org/join", _BOTH),
    Variable("invitation.url", "Personal invitation link", "https://app.example.org/join/K7P2QX4M", _INVITATION),
    Variable("invitation.code", "Personal invitation code", "K7P2-QX4M", _INVITATION),
    Variable("invitation.expires_on", "Last day the invitation is valid", date(2026, 12, 24), _INVITATION),
    Variable(
        "unsubscribe.url", "Personal unsubscribe link (required in every email)", UNSUBSCRIBE_EXAMPLE, _INVITATION
    ),
    Variable("campaign.starts_on", "First day of the broadcast", date(2026, 12, 1), _BROADCAST),
    Variable("campaign.ends_on", "Last day of the broadcast", date(2026, 12, 24), _BROADCAST),
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


def format_date(day: date, language: str) -> str:
    """'24 décembre 2026' / 'December 24, 2026' (French writes the 1st as '1er')."""
    _check_language(language)
    month = _MONTHS[language][day.month - 1]
    if language == "fr":
        return f"{'1er' if day.day == 1 else day.day} {month} {day.year}"
    return f"{month} {day.day}, {day.year}"


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
        campaign=examples("campaign") if kind == "broadcast" else {},
        invitation=examples("invitation") if kind == "invitation" else None,
        language=language,
        unsubscribe=examples("unsubscribe") if kind == "invitation" else None,
    )


# --- sandbox -----------------------------------------------------------------------


class _Sandbox(sandbox.BudgetSandbox):
    """No attribute access at all: `patient.first_name` resolves as a key of the
    patient dict; `x.upper`, `x.__class__`, `patient.items` are refused."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&=])")


def _markdown_literal(value: Any) -> str:
    """`value` as Markdown that renders to exactly its text, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _sandbox(**options: Any) -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True, **options)
    env.globals.clear()  # no range(), dict(), namespace()...
    return env


_PLAIN_ENV = _sandbox()
_MARKDOWN_ENV = _sandbox(finalize=_markdown_literal)
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})
_REFUSED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}


# --- validation --------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateProblem:
    """One problem in one template field; str() gives 'fr body line 3: message'."""

    language: str
    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.language} {self.field}" + (f" line {self.line}" if self.line else "")
        return f"{where}: {self.message}"


class TemplateRenderError(Exception):
    """A template that cannot be rendered with the given context."""

    def __init__(self, field: str, line: int | None, message: str, length: int | None = None) -> None:
        super().__init__(f"{field}" + (f" line {line}" if line else "") + f": {message}")
        self.field = field
        self.line = line
        self.message = message
        self.length = length  # the rendered length, for a push text that came out too long


def validate(
    kind: str, fields: Mapping[str, str], language: str, clinic: Mapping[str, Any] | None = None
) -> list[TemplateProblem]:
    """Problems of one language's templates, found without real data.

    Each field is parsed, its variable references checked against the catalogue,
    then rendered with `sample_context` (the rendered push is what is measured).
    """
    _check_kind(kind)
    context = sample_context(kind, language, clinic)
    problems = []

    def problem(field: str, line: int | None, message: str) -> None:
        problems.append(TemplateProblem(language, field, line, message))

    for field in fields:
        if field not in FIELDS[kind]:
            problem(field, None, f"not a field of {_a(kind)}")
    for field in FIELDS[kind]:
        source = fields.get(field) or ""
        if not source.strip():
            problem(field, None, "is empty")
            continue
        _, static = _analyse(kind, field, source)
        for line, message in static:
            problem(field, line, message)
        if not static:
            try:
                text = _render_field(kind, field, source, context)
            except TemplateRenderError as error:
                problem(field, error.line, error.message)
                continue
            if kind == "invitation" and field == "body" and _markdown_literal(UNSUBSCRIBE_EXAMPLE) not in text:
                problem(field, None, UNSUBSCRIBE_MISSING)
    return problems


UNSUBSCRIBE_MISSING = (
    "must carry the patient's unsubscribe link {{ unsubscribe.url }}: every email needs a way out (SPEC §10)"
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


@lru_cache(maxsize=512)
def _analyse(kind: str, field: str, source: str) -> tuple[Template | None, tuple[tuple[int, str], ...]]:
    """Compile `source` and list its static problems as (line, message)."""
    env = _MARKDOWN_ENV if field == "body" else _PLAIN_ENV
    ast, template, refused = sandbox.compile_field(env, source)  # size, syntax, budget (issue #8)
    if ast is None:
        return None, tuple(refused)
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return template, tuple(_scan(ast, kind, field, local))


def _scan(node: nodes.Node, kind: str, field: str, local: set[str]) -> Iterator[tuple[int, str]]:
    """Yield (line, message) for every reference the catalogue does not allow."""
    if type(node) in _REFUSED_TAGS:
        yield node.lineno, f"{{% {_REFUSED_TAGS[type(node)]} %}} is not allowed"
        return
    name = _reference(node, local)
    if name is not None:
        message = _reference_problem(name, kind, field)
        if message:
            yield node.lineno, message
        return
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in local:
        if node.name in _GROUPS:
            example = next(v.name for v in VARIABLES if v.group == node.name)
            yield node.lineno, f"'{node.name}' is not a variable; use one of its fields, e.g. '{example}'"
        else:
            yield node.lineno, _unknown(node.name)
        return
    if isinstance(node, nodes.Getattr) or (isinstance(node, nodes.Getitem) and isinstance(_constant(node.arg), str)):
        attribute = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
        yield node.lineno, f"attribute '{attribute}' is not allowed; only the listed variables are"
        return
    for child in node.iter_child_nodes():
        yield from _scan(child, kind, field, local)


def _reference(node: nodes.Node, local: set[str]) -> str | None:
    """'group.key' when `node` is `group.key` or `group['key']` on a non-local name."""
    if isinstance(node, nodes.Getattr):
        key = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(_constant(node.arg), str):
        key = _constant(node.arg)
    else:
        return None
    base = node.node
    if isinstance(base, nodes.Name) and base.ctx == "load" and base.name not in local:
        return f"{base.name}.{key}"
    return None


def _constant(node: nodes.Node) -> Any:
    return node.value if isinstance(node, nodes.Const) else None


def _reference_problem(name: str, kind: str, field: str) -> str | None:
    variable = _BY_NAME.get(name)
    if variable is None:
        return _unknown(name)
    if kind not in variable.kinds:
        return f"'{name}' is not available in {_a(kind)}"
    if variable.per_patient and field in SHARED_FIELDS.get(kind, ()):
        if field == "push":
            return f"'{name}' is patient data: a push shows on a locked phone screen, where others can see it"
        return f"'{name}' is patient data: the broadcast's {field} is one message for the whole audience"
    return None


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, _BY_NAME, n=1, cutoff=0.85)
    return f"unknown variable '{name}'" + (f" (did you mean '{close[0]}'?)" if close else "")


# --- rendering ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """Rendered fields; those not asked for are None.

    invitation: subject, text, html (both from the body). broadcast: title,
    body_markdown, push.
    """

    subject: str | None = None
    text: str | None = None
    html: str | None = None
    title: str | None = None
    body_markdown: str | None = None
    push: str | None = None


def render(kind: str, fields: Mapping[str, str], context: Mapping[str, Any]) -> Rendered:
    """Render the fields present in `fields` with a `build_context` context.

    Raises TemplateRenderError (e.g. a push over 178 characters, a variable missing
    from the context). To publish a broadcast, pass only title and body with a
    context built without a patient; render the push per patient.
    """
    _check_kind(kind)
    out = {}
    for field, source in fields.items():
        if field not in FIELDS[kind]:
            raise ValueError(f"{field!r} is not a field of {_a(kind)}")
        out[field] = _render_field(kind, field, source, context)
    if kind == "broadcast":
        return Rendered(title=out.get("title"), body_markdown=out.get("body"), push=out.get("push"))
    if "body" not in out:
        return Rendered(subject=out.get("subject"))
    tokens = _MARKDOWN.parse(out["body"])
    body_html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return Rendered(
        subject=out.get("subject"),
        text=_markdown_to_text(tokens),
        html=_html_document(out.get("subject") or "", body_html),
    )


def _render_field(kind: str, field: str, source: str, context: Mapping[str, Any]) -> str:
    """One field's text: Markdown with literal values for a body, one line otherwise."""
    template, static = _analyse(kind, field, source)
    if static:
        raise TemplateRenderError(field, *static[0])
    assert template is not None  # it compiled: no static problem
    try:
        text = sandbox.render(template, context)
    except Exception as error:  # the sandbox turns any template mistake into an exception
        raise TemplateRenderError(field, _template_line(error), _describe(error)) from error
    if field == "body":
        return text.strip()
    text = " ".join(text.split())
    if field == "push" and len(text) > PUSH_MAX_CHARS:
        message = f"push text is {len(text)} characters; at most {PUSH_MAX_CHARS}"
        raise TemplateRenderError(field, None, message, length=len(text))
    return text


def _template_line(error: BaseException) -> int | None:
    """The template line of the innermost template frame of `error`'s traceback."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(error: Exception) -> str:
    if isinstance(error, SecurityError):
        return f"not allowed: {error}"
    if isinstance(error, UndefinedError):
        return f"undefined: {error}"
    return f"{type(error).__name__}: {error}"


def _html_document(title: str, body_html: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n"
        '<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em;">\n'
        f"{body_html}</body>\n</html>\n"
    )


def _markdown_to_text(tokens: list[Token]) -> str:
    """Readable plain text: links as 'text (url)', bullets as '- ', no emphasis markers."""
    lines: list[str] = []
    list_columns: list[int] = []  # text column of the enclosing item, one per open list
    column = 0  # where the current block's lines start
    marker = ""  # list marker still to write before the next line
    quote = ""

    def write(text: str) -> None:
        nonlocal marker
        for line in text.split("\n"):
            lead = " " * list_columns[-1] + marker + " " if marker else " " * column
            lines.append((quote + lead + line).rstrip())
            marker = ""

    for token in tokens:
        match token.type:
            case "bullet_list_open" | "ordered_list_open":
                list_columns.append(column)
            case "bullet_list_close" | "ordered_list_close":
                column = list_columns.pop()
                if not list_columns:
                    lines.append("")
            case "list_item_open":
                marker = token.info + token.markup if token.info else "-"
                column = list_columns[-1] + len(marker) + 1
            case "inline":
                write(_inline_text(token.children or []))
            case "code_block" | "fence":
                write(token.content.rstrip("\n"))
                lines.append("")
            case "hr":
                write("----")
                lines.append("")
            case "blockquote_open":
                quote += "> "
            case "blockquote_close":
                quote = quote[:-2]
                lines.append("")
            case "paragraph_close" | "heading_close" if not token.hidden:
                lines.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _inline_text(children: list[Token]) -> str:
    parts: list[str] = []
    links: list[tuple[str, int]] = []
    for token in children:
        match token.type:
            case "text" | "code_inline":
                parts.append(token.content)
            case "softbreak" | "hardbreak":
                parts.append("\n")
            case "image":
                parts.append(token.content)
            case "link_open":
                links.append((str(token.attrGet("href") or ""), len(parts)))
            case "link_close":
                href, start = links.pop()
                label = "".join(parts[start:])
                if href and href not in (label, f"mailto:{label}"):
                    parts.append(f" ({href})")
    return "".join(parts)


# --- template file -----------------------------------------------------------------


_FILE_KEYS = ("subject", "title", "body", "push")


class TemplateFileError(Exception):
    """A template file that cannot be used; the message is one line naming file and key."""


def load_template_file(path: str | Path) -> TemplateSet:
    """Read a TOML template file (one table a language: subject, body, title, push)."""
    try:  # bounded, devices and FIFOs refused (issue #8); a UTF-8 BOM (Windows editors) is fine
        raw = infile.read_bytes(path, limit=infile.TEMPLATE_LIMIT, what="a template file")
        data = tomllib.loads(raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except BadInput as error:
        raise TemplateFileError(str(error)) from None
    except UnicodeDecodeError as error:
        raise TemplateFileError(f"{path}: not UTF-8 text") from error
    except tomllib.TOMLDecodeError as error:
        raise TemplateFileError(f"{path}: TOML syntax error: {error}") from error
    except RecursionError:
        raise TemplateFileError(f"{path}: TOML nested too deeply") from None
    templates: TemplateSet = {}
    for language, fields in data.items():
        if language not in LANGUAGES:
            raise TemplateFileError(f"{path}: unknown language '{language}'; expected {' or '.join(LANGUAGES)}")
        if not isinstance(fields, dict):
            raise TemplateFileError(f"{path}: '{language}' must be a table, like [{language}]")
        for key, value in fields.items():
            if key not in _FILE_KEYS:
                raise TemplateFileError(
                    f"{path}: unknown key '{language}.{key}'; expected one of {', '.join(_FILE_KEYS)}"
                )
            if not isinstance(value, str):
                raise TemplateFileError(f"{path}: '{language}.{key}' must be a string")
        templates[language] = dict(fields)
    return templates


# --- helpers -----------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in FIELDS:
        raise ValueError(f"unknown campaign kind {kind!r}; expected one of {', '.join(KINDS)}")


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
