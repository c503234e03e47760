"""Rendering with a real context: an invitation's subject and body (the text and HTML
parts of the email come from the same parsed Markdown), a broadcast's title, Markdown
body and push."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markdown_it.token import Token

from core.enums import Kind
from core.templating.fields import _MARKDOWN, _render_field
from core.templating.variables import FIELDS, _a, _check_kind

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


def render(kind: str, fields: Mapping[str, str], context: Mapping[str, Any], language: str = "") -> Rendered:
    """Render the fields present in `fields` with a `build_context` context; an email's
    HTML document says its `language` (`<html lang>`) when given.

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
    if kind == Kind.BROADCAST:
        return Rendered(title=out.get("title"), body_markdown=out.get("body"), push=out.get("push"))
    if "body" not in out:
        return Rendered(subject=out.get("subject"))
    tokens = _MARKDOWN.parse(out["body"])
    body_html = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return Rendered(
        subject=out.get("subject"),
        text=_markdown_to_text(tokens),
        html=_html_document(out.get("subject") or "", body_html, language),
    )


def _html_document(title: str, body_html: str, language: str = "") -> str:
    lang = f' lang="{html.escape(language)}"' if language else ""
    return (
        f'<!DOCTYPE html>\n<html{lang}>\n<head>\n<meta charset="utf-8">\n'
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
