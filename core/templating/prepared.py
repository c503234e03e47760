"""An invitation rendered for many patients: its template parsed and its Markdown
rendered once per campaign and language, only the patient's values put in per email.

`Prepared(fields, shared, language).render(values)` is exactly `render("invitation",
fields, shared | values, language)` — the same subject, text and HTML, the same errors —
at a fraction of the cost:

- the template is rendered once per *variant* (which per-patient values are empty:
  `{% if patient.first_name %}` takes one branch or the other) with a placeholder in
  place of each per-patient value, and its Markdown parsed and rendered once;
- per email, each placeholder is replaced by the patient's value, written as that spot
  needs it: HTML-escaped in the HTML's text, as is in the plain text, normalised as
  Markdown normalises a link's destination in an `href`.

That is exact only where a value cannot change how the Markdown around it parses, so
the fast path is taken only then, else the email is rendered in full:
- the template uses per-patient variables only as `{{ group.key }}` (no filter, no
  comparison) and as the whole test of an `{% if %}`;
- each placeholder lands in text or in a link's destination (not in code, a title or
  an image);
- each value, spaces collapsed as the body writes it, is printable and starts and ends
  with a letter or digit (so it flanks emphasis and starts a line as the placeholder
  does), and is not only digits (`1` at the start of a line could start a list); a
  value in a link's destination has no space, parenthesis or angle bracket, and the
  link it makes is still allowed (core.templating.fields' Markdown refuses
  `javascript:`);
- a link shown in the text as "label (url)" keeps whether its url equals its label;
- the body has no `<` or `&` (an autolink or an entity could take in a value's `:` or
  `;`) and defines no link references (`[value]` could name one).

tests/test_templating.py checks the fast path against `render` on hostile values.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

from core.templating import sandbox
from core.templating.fields import _MARKDOWN, _MARKDOWN_ENV, _PLAIN_ENV, NO_BREAK_SPACES, _render_field, one_line
from core.templating.rendering import Rendered, _html_document, _inline_text, _markdown_to_text, render
from core.templating.variables import VARIABLES

KIND = "invitation"
PER_PATIENT = tuple(v.name for v in VARIABLES if v.per_patient and KIND in v.kinds)
PER_PATIENT_GROUPS = frozenset(name.partition(".")[0] for name in PER_PATIENT)
_GROUPS = PER_PATIENT_GROUPS
_URL_REFUSED = set(" ()<>\\\"'`")


def _placeholder(i: int) -> str:
    # letters only: Markdown-literal escaping leaves it as it is, and it flanks
    # emphasis and starts a line like a name does
    return "Qzxq" + "".join("abcdefghijklmnop"[int(d)] for d in f"{i:02d}") + "Zqxq"


@dataclass
class _Link:
    href: str  # as the placeholders' render has it (normalised)
    raw: str  # the destination as written, before normalising
    label: str
    shown: bool  # the text shows " (href)": the href is not the label
    plain: bool  # the placeholders sit past the host in an already normal link
    whole: bool  # the link is one placeholder alone


_PAST_HOST = re.compile(r"^(?:(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#\s]*[/?#]|[/?#](?!/))")
# characters normalising a link keeps as they are, past its host (mdurl's own set)
_URL_KEPT = frozenset(string.ascii_letters + string.digits + "-._~!$*+,;=:@/?#")
# a whole link normalising keeps as it is: http(s), a lower-case ASCII host, a path
_PLAIN_URL = re.compile(r"https?://[a-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9\-._~!$*+,;=:@/?#]*")


def _link(href: str, raw: str, label: str, marks: list[str]) -> _Link:
    first = min((raw.find(m) for m in marks if m in raw), default=-1)
    plain = href == raw and (first < 0 or bool(_PAST_HOST.match(raw[:first])))
    whole = href == raw and raw in marks
    return _Link(href, raw, label, bool(href) and href not in (label, f"mailto:{label}"), plain, whole)


@dataclass
class _Variant:
    subject: str
    text: str
    body_html: str
    names: tuple[str, ...]  # the per-patient values put in
    marks: dict[str, str]  # their placeholders
    links: list[_Link]
    in_text: set[str]  # the names whose placeholder is in the body's text
    body_counts: dict[str, int]  # placeholders in the body's Markdown, by name
    lengths: tuple[int, int]  # the subject's and body's rendered length with placeholders


class Prepared:
    """One invitation template in one language, with the values patients share."""

    def __init__(self, fields: Mapping[str, str], shared: Mapping[str, Any], language: str):
        self.fields = {"subject": fields.get("subject", ""), "body": fields.get("body", "")}
        self.shared = dict(shared)
        self.language = language
        self.tested = _tested_names(self.fields)  # None: not eligible
        self._variants: dict[tuple[bool, ...], _Variant | None] = {}
        self.fast = self.slow = 0  # how many emails took each path (tests, bench)

    def render(self, values: Mapping[str, Mapping[str, str]]) -> Rendered:
        """The email for one patient: `values` are the per-patient groups of a
        build_context context (patient, invitation, unsubscribe)."""
        got = self._fast(values) if self.tested is not None else None
        if got is None:
            self.slow += 1
            return render(KIND, self.fields, {**self.shared, **values}, self.language)
        self.fast += 1
        return got

    def _fast(self, values: Mapping[str, Mapping[str, str]]) -> Rendered | None:
        flat = {}
        for name in PER_PATIENT:
            group, _, field = name.partition(".")
            flat[name] = str((values.get(group) or {}).get(field, ""))
        which = tuple(bool(flat[n]) for n in PER_PATIENT)
        if which not in self._variants:
            self._variants[which] = self._variant({n for n, b in zip(PER_PATIENT, which, strict=True) if b})
        v = self._variants[which]
        return None if v is None else _fill(v, flat, self.language)

    def _variant(self, present: set[str]) -> _Variant | None:
        names = tuple(n for n in PER_PATIENT if n in present)
        marks = {n: _placeholder(i) for i, n in enumerate(PER_PATIENT)}
        context: dict[str, Any] = dict(self.shared)
        for name in PER_PATIENT:
            group, _, key = name.partition(".")
            context.setdefault(group, {})
            context[group] = {**context[group], key: marks[name] if name in present else ""}
        for m in marks.values():
            if any(m in s for s in self.fields.values()) or m in repr(self.shared):
                return None
        try:
            subject = _render_field(KIND, "subject", self.fields["subject"], context)
            body = _render_field(KIND, "body", self.fields["body"], context)
        except Exception:  # noqa: BLE001 - the full render gives the error, per patient
            return None
        if "<" in body or "&" in body:
            return None  # an autolink or an entity could take in the value's characters
        links: list[_Link] = []
        md, raws = _recording_markdown()
        env: dict = {}
        tokens = md.parse(body, env)
        if env.get("references"):
            return None  # `[value]` could name a link defined elsewhere
        in_text = _contexts(tokens, [marks[n] for n in names], links, raws)
        if in_text is None:
            return None
        text = _markdown_to_text(tokens)
        body_html = md.renderer.render(tokens, md.options, {})
        return _Variant(
            subject,
            text,
            body_html,
            names,
            {n: marks[n] for n in names},
            links,
            {n for n in names if marks[n] in in_text},
            {n: body.count(marks[n]) for n in names},
            (len(subject), len(body)),
        )


def _recording_markdown() -> tuple[MarkdownIt, dict[str, str]]:
    """Markdown as core.templating.fields has it, noting each link's raw destination."""
    md = MarkdownIt("commonmark", dict(_MARKDOWN.options))
    raws: dict[str, str] = {}
    normalize = _MARKDOWN.normalizeLink

    def recording(url: str) -> str:
        out = normalize(url)
        raws[out] = url
        return out

    md.normalizeLink = recording  # type: ignore[method-assign]
    return md, raws


def _contexts(tokens: list[Token], marks: list[str], links: list[_Link], raws: dict[str, str]) -> str | None:
    """The body's text tokens joined, when every placeholder is in text or a link's
    destination (None when one is elsewhere: code, a title, an image, an autolink);
    collects the links that hold one."""

    def has(s: str | None) -> bool:
        return bool(s) and any(m in s for m in marks)  # type: ignore[operator]

    texts = []
    for t in tokens:
        if t.type != "inline":
            if has(t.content) or any(has(str(v)) for v in (t.attrs or {}).values()):
                return None
            continue
        children = t.children or []
        for i, c in enumerate(children):
            if c.type == "text":
                texts.append(c.content)
                continue
            if c.type == "link_open":
                attrs = dict(c.attrs or {})
                if any(has(str(v)) for k, v in attrs.items() if k != "href"):
                    return None
                href = str(attrs.get("href") or "")
                label = _inline_text(children[i + 1 : _close(children, i)])
                if has(href) or has(label):
                    if c.markup == "autolink" or href not in raws:
                        return None
                    links.append(_link(href, raws[href], label, marks))
                continue
            if has(c.content) or any(has(str(v)) for v in (c.attrs or {}).values()):
                return None
    return "\n".join(texts)


def _close(children: list[Token], i: int) -> int:
    depth = 0
    for j in range(i, len(children)):
        if children[j].type == "link_open":
            depth += 1
        elif children[j].type == "link_close":
            depth -= 1
            if depth == 0:
                return j
    return len(children)


def _fill(v: _Variant, flat: dict[str, str], language: str) -> Rendered | None:
    """The variant with this patient's values, or None when they need the full render."""
    marks = v.marks
    words: dict[str, str] = {}
    grown = [0, 0]
    for n in v.names:
        w = one_line(flat[n])
        if not (w and _printable(w)) or (n in v.in_text and not _plain_word(w)):
            return None
        words[n] = w
        grown[0] += len(w)
        grown[1] += v.body_counts[n] * 2 * len(w)  # generous: escaping at most doubles it
    if v.lengths[0] + grown[0] * 64 > sandbox.MAX_OUTPUT_CHARS or v.lengths[1] + grown[1] > sandbox.MAX_OUTPUT_CHARS:
        return None
    text, body_html = v.text, v.body_html
    for link in v.links:
        raw, label = link.raw, link.label
        kept = link.plain
        for n, w in words.items():
            m = marks[n]
            if m in raw:
                if _URL_REFUSED.intersection(w):
                    return None
                if link.whole:
                    kept = bool(_PLAIN_URL.fullmatch(w))
                else:
                    kept = kept and _URL_KEPT.issuperset(w)
                raw = raw.replace(m, w)
            label = label.replace(m, w)
        href = raw if kept else _MARKDOWN.normalizeLink(raw)
        if not _MARKDOWN.validateLink(href):
            return None
        if (bool(href) and href not in (label, f"mailto:{label}")) != link.shown:
            return None
        text = text.replace(f" ({link.href})", f" ({href})")
        body_html = body_html.replace(f'href="{escapeHtml(link.href)}"', f'href="{escapeHtml(href)}"')
    subject = v.subject
    for n, w in words.items():
        m = marks[n]
        subject = subject.replace(m, w)
        text = text.replace(m, w)
        body_html = body_html.replace(m, escapeHtml(w))
    return Rendered(subject=subject, text=text, html=_html_document(subject, body_html, language))


def _printable(w: str) -> bool:
    """Printable, no-break spaces (a date's) included."""
    return w.translate(_NO_BREAK_AS_SPACE).isprintable()


_NO_BREAK_AS_SPACE = str.maketrans(dict.fromkeys(NO_BREAK_SPACES, " "))


def _plain_word(w: str) -> bool:
    """A value that reads in Markdown text as the placeholder does."""
    return w[0].isalnum() and w[-1].isalnum() and not w.isdigit()


def _tested_names(fields: Mapping[str, str]) -> set[str] | None:
    """The per-patient variables an `{% if %}` tests, when every use of one is a plain
    output or a whole test; None when some other use makes the fast path unsafe."""
    tested: set[str] = set()
    for field, source in fields.items():
        env = _MARKDOWN_ENV if field == "body" else _PLAIN_ENV
        ast, _template, refused = sandbox.compile_field(env, source)
        if ast is None or refused:
            return None
        if any(n.name in _GROUPS for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")):
            return None
        if not _uses_ok(ast, None, tested):
            return None
    return tested


def _uses_ok(node: nodes.Node, parent: nodes.Node | None, tested: set[str]) -> bool:
    name = _per_patient(node)
    if name is not None:
        if isinstance(parent, nodes.Output) and any(x is node for x in parent.nodes):
            return True
        if isinstance(parent, nodes.If) and parent.test is node:
            tested.add(name)
            return True
        return False
    if isinstance(node, nodes.Name) and node.name in _GROUPS:
        return False  # `patient` alone, `patient[k]`...: the full render says what is wrong
    return all(_uses_ok(c, node, tested) for c in node.iter_child_nodes())


def _per_patient(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        key: Any = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        key = node.arg.value
    else:
        return None
    base = node.node
    if isinstance(base, nodes.Name) and base.name in _GROUPS and isinstance(key, str):
        name = f"{base.name}.{key}"
        return name if name in PER_PATIENT else None
    return None


__all__ = ["PER_PATIENT", "PER_PATIENT_GROUPS", "Prepared"]
