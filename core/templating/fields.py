"""One template field in the sandbox: compiled once (cached), its variable references
checked against the catalogue, rendered to text. Every `{{ expression }}` in a body is
inserted as Markdown that renders to exactly its text, so a patient value can add
neither a link, nor formatting, nor HTML: as literal Markdown text (`_markdown_literal`)
where backslash escapes work, as it is inside a code span (under a fence it cannot
close) or an autolink (when it keeps the autolink whole), where they do not."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, nodes, pass_context
from jinja2.runtime import Context
from markdown_it import MarkdownIt
from markdown_it.rules_inline.autolink import AUTOLINK_RE, EMAIL_RE

from core import i18n
from core.i18n import _, pgettext
from core.templating import jinjawords, sandbox
from core.templating.variables import _BY_NAME, _GROUPS, PUSH_MAX_CHARS, SHARED_FIELDS, VARIABLES, _a

# --- sandbox -----------------------------------------------------------------------


class _Sandbox(sandbox.BudgetSandbox):
    """No attribute access at all: `patient.first_name` resolves as a key of the
    patient dict; `x.upper`, `x.__class__`, `patient.items` are refused."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&=])")
# white space a line may break at; the no-break spaces (a date's « 21 décembre 2026 »,
# French typography's « : ») are kept as they are
_BREAKING_SPACES = re.compile(r"[^\S\u00a0\u2007\u202f]+")
NO_BREAK_SPACES = "\u00a0\u2007\u202f"


def one_line(value: Any) -> str:
    """`value` on one line: each run of breaking white space one space, none at the ends."""
    return _BREAKING_SPACES.sub(" ", str(value)).strip(" ")


def _markdown_literal(value: Any) -> str:
    """`value` as Markdown that renders to exactly its text, on one line, where
    backslash escapes work (not inside a code span or an autolink)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(value))


# A body is rendered with a slot in place of each value, then each slot is written as
# the Markdown around it needs (`_fill_slots`). A slot is letters around a colon: text
# in text, and a URI in an autolink, so `<{{ unsubscribe.url }}>` parses as one.
_SLOT = re.compile(r"xqzjv:([a-p]+)vjzqx")
_SLOT_MARK = re.compile(r"xqzjv", re.IGNORECASE)
_slots: ContextVar[list[str] | None] = ContextVar("clinicast_markdown_slots", default=None)


def _slot(i: int) -> str:
    return "xqzjv:" + "".join("abcdefghijklmnop"[int(d, 16)] for d in f"{i:x}") + "vjzqx"


@pass_context
def _markdown_output(_context: Context, value: Any) -> str:
    """A body's `{{ expression }}`: a slot while a body is rendered for its slots, else
    literal Markdown text. (Taking the context keeps Jinja from writing a constant's
    output at compile time.)"""
    slots = _slots.get()
    if slots is None:
        return _markdown_literal(value)
    slots.append(one_line(value))
    return _slot(len(slots) - 1)


def _sandbox(**options: Any) -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True, **options)
    env.globals.clear()  # no range(), dict(), namespace()...
    return env


_PLAIN_ENV = _sandbox()
_MARKDOWN_ENV = _sandbox(finalize=_markdown_output)
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})
_REFUSED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}


def field_words(field: str) -> str:
    """A template field's name as staff read it (« objet », "subject")."""
    words = {
        "subject": pgettext("template field", "subject"),
        "body": pgettext("template field", "body"),
        "title": pgettext("template field", "title"),
        "push": pgettext("template field", "push"),
    }
    return words.get(field, field)


class TemplateRenderError(Exception):
    """A template that cannot be rendered with the given context."""

    def __init__(self, field: str, line: int | None, message: str, length: int | None = None) -> None:
        if line:
            said = _("{field} line {line}: {message}").format(field=field_words(field), line=line, message=message)
        else:
            said = _("{field}: {message}").format(field=field_words(field), message=message)
        super().__init__(said)
        self.field = field
        self.line = line
        self.message = message
        self.length = length  # the rendered length, for a push text that came out too long


def _analyse(kind: str, field: str, source: str) -> tuple[Template | None, tuple[tuple[int, str], ...]]:
    """Compile `source` and list its static problems as (line, message), in the language
    in use (the cache keeps one answer per language)."""
    return _analyse_in(kind, field, source, i18n.current())


@lru_cache(maxsize=512)
def _analyse_in(
    kind: str, field: str, source: str, _language: str
) -> tuple[Template | None, tuple[tuple[int, str], ...]]:
    env = _MARKDOWN_ENV if field == "body" else _PLAIN_ENV
    ast, template, refused = sandbox.compile_field(env, source)  # size, syntax, budget (issue #8)
    if ast is None:
        return None, tuple(refused)
    local = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return template, tuple(_scan(ast, kind, field, local))


def _scan(node: nodes.Node, kind: str, field: str, local: set[str]) -> Iterator[tuple[int, str]]:
    """Yield (line, message) for every reference the catalogue does not allow."""
    if type(node) in _REFUSED_TAGS:
        yield node.lineno, _("{tag} is not allowed").format(tag=f"{{% {_REFUSED_TAGS[type(node)]} %}}")
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
            yield (
                node.lineno,
                _("'{name}' is not a variable; use one of its fields, e.g. '{example}'").format(
                    name=node.name, example=example
                ),
            )
        else:
            yield node.lineno, _unknown(node.name)
        return
    if isinstance(node, nodes.Getattr) or (isinstance(node, nodes.Getitem) and isinstance(_constant(node.arg), str)):
        attribute = node.attr if isinstance(node, nodes.Getattr) else _constant(node.arg)
        yield (
            node.lineno,
            _(jinjawords.ATTRIBUTE_REFUSED).format(attribute=attribute),
        )
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
        return _("'{name}' is not available in {kind}").format(name=name, kind=_a(kind))
    if variable.per_patient and field in SHARED_FIELDS.get(kind, ()):
        if field == "push":
            return _("'{name}' is patient data: a push shows on a locked phone screen, where others can see it").format(
                name=name
            )
        return _("'{name}' is patient data: the broadcast's {field} is one message for the whole audience").format(
            name=name, field=field_words(field)
        )
    return None


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, _BY_NAME, n=1, cutoff=0.85)
    if close:
        return _("unknown variable '{name}' (did you mean '{close}'?)").format(name=name, close=close[0])
    return _("unknown variable '{name}'").format(name=name)


def _render_field(kind: str, field: str, source: str, context: Mapping[str, Any]) -> str:
    """One field's text: Markdown with literal values for a body, one line otherwise."""
    template, static = _analyse(kind, field, source)
    if static:
        raise TemplateRenderError(field, *static[0])
    assert template is not None  # it compiled: no static problem
    try:
        text = _render_body(template, context) if field == "body" else sandbox.render(template, context)
    except Exception as error:  # the sandbox turns any template mistake into an exception
        raise TemplateRenderError(field, _template_line(error), jinjawords.runtime(error)) from error
    if field == "body":
        return text.strip()
    text = one_line(text)
    if field == "push" and len(text) > PUSH_MAX_CHARS:
        message = _("push text is {n} characters; at most {max}").format(n=len(text), max=PUSH_MAX_CHARS)
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


# --- a body's values, written as the Markdown around each needs ----------------------


def _render_body(template: Template, context: Mapping[str, Any]) -> str:
    """The body's Markdown, each value rendering to exactly its text: rendered with
    slots, each slot then written for where it landed. A template that transforms
    its own output (a `{% filter %}` or `{% set %}` block holding a value) is rendered
    with every value as literal text."""
    values: list[str] = []
    token = _slots.set(values)
    try:
        with_slots = sandbox.render(template, context)
    finally:
        _slots.reset(token)
    body = _fill_slots(with_slots, values)
    if body is None:
        body = sandbox.render(template, context)
    sandbox.check_rendered_size(len(body))
    return body


def _fill_slots(markdown: str, values: list[str]) -> str | None:
    """`markdown` with its slots written: literal Markdown text where backslash escapes
    work; as it is inside a code span (the span's fence changed when the value holds a
    backtick) or code block, and inside an autolink that stays whole with it. None when
    the slots are not each there once (the template transformed them)."""
    if any(_SLOT_MARK.search(v) for v in values):
        return None
    places = _places(markdown)
    if places is None or places.count != len(values):
        return None
    written = [_markdown_literal(v) for v in values]
    for i, line in places.code_block:
        if not re.fullmatch(r"[\s>]*(`{3,}|~{3,}).*", _filled(line, values)):
            written[i] = values[i]  # the line does not become a fence
    for slots, url in places.autolinks:
        if _whole_autolink(_filled(url, values)):
            for i in slots:
                written[i] = values[i]
    rewrite = []
    for span in places.spans:
        if all(values[i] and not set("`>").intersection(values[i]) for i in span.slots) and all(
            values[i][0].isalpha() for i in span.line_start
        ):
            for i in span.slots:
                written[i] = values[i]
        else:
            rewrite.append(span)
    if rewrite:
        rewritten = _rewrite_spans(markdown, values, rewrite)
        if rewritten is not None:
            filled = _SLOT.sub(lambda m: written[_slot_index(m.group(1))], rewritten)
            codes = [_filled(c, values) for c in places.codes]
            if _code_contents(filled) == [c for c in codes if c]:
                return filled
        for span in rewrite:  # not exact with a new fence: these values as literal text
            for i in span.slots:
                written[i] = _markdown_literal(values[i])
    return _SLOT.sub(lambda m: written[_slot_index(m.group(1))], markdown)


def _filled(text: str, values: list[str]) -> str:
    return _SLOT.sub(lambda m: values[_slot_index(m.group(1))], text)


def _code_contents(markdown: str) -> list[str]:
    return [c.content for b in _MARKDOWN.parse(markdown) for c in b.children or () if c.type == "code_inline"]


def _slot_index(letters: str) -> int:
    return int("".join(f"{'abcdefghijklmnop'.index(c):x}" for c in letters), 16)


def _slots_in(text: str) -> list[int]:
    return [_slot_index(m) for m in _SLOT.findall(text)]


@dataclass(frozen=True)
class _Span:
    """A code span holding slots: its content and fence as parsed, and its slots that
    start a line of the source (a value there could begin a block)."""

    content: str
    markup: str
    slots: tuple[int, ...]
    line_start: tuple[int, ...]


@dataclass(frozen=True)
class _Places:
    """Where a body's slots landed, where backslash escapes do not work."""

    count: int  # slots, each once
    codes: tuple[str, ...] = ()  # every code span's content, in order
    spans: tuple[_Span, ...] = ()
    code_block: tuple[tuple[int, str], ...] = ()  # (slot, its source line) in a code block
    autolinks: tuple[tuple[tuple[int, ...], str], ...] = ()  # (slots, the link's source)


@lru_cache(maxsize=256)
def _places(markdown: str) -> _Places | None:
    """Parsed once per body and variant (the slots are the same for every patient)."""
    found = _slots_in(markdown)
    if sorted(found) != list(range(len(found))) or len(_SLOT_MARK.findall(markdown)) != len(found):
        return None
    if not set("`~<").intersection(markdown):
        return _Places(len(found))
    codes, spans, code_block, autolinks = [], [], [], []

    def line_of(i: int) -> tuple[str, str]:  # the source before the slot on its line, and its line
        start = markdown.index(_slot(i))
        begin, end = markdown.rfind("\n", 0, start) + 1, markdown.find("\n", start)
        return markdown[begin:start], markdown[begin : end if end >= 0 else None]

    for block in _MARKDOWN.parse(markdown):
        if block.type in ("fence", "code_block"):
            code_block += [(i, line_of(i)[1]) for i in _slots_in(block.content)]
            continue
        for child in block.children or ():
            if child.type == "code_inline":
                codes.append(child.content)
                slots = tuple(_slots_in(child.content))
                if slots:
                    starts = tuple(i for i in slots if not line_of(i)[0].strip(" \t>"))
                    spans.append(_Span(child.content, child.markup, slots, starts))
            elif child.type == "link_open" and child.markup == "autolink":
                slots = tuple(_slots_in(str(child.attrGet("href") or "")))
                if slots:
                    start = markdown.index(_slot(slots[0]))
                    url = markdown[markdown.rfind("<", 0, start) + 1 : markdown.find(">", start)]
                    autolinks.append((slots, url))
    return _Places(len(found), tuple(codes), tuple(spans), tuple(code_block), tuple(autolinks))


def _whole_autolink(url: str) -> bool:
    """Whether `<url>` is one autolink (CommonMark's) that Markdown here keeps."""
    if "`" in url:  # it could close a code span left open before the link
        return False
    if AUTOLINK_RE.search(url):
        return _MARKDOWN.validateLink(_MARKDOWN.normalizeLink(url))
    if EMAIL_RE.search(url):
        return _MARKDOWN.validateLink(_MARKDOWN.normalizeLink("mailto:" + url))
    return False


def _code_span(text: str) -> str:
    """Markdown for a code span showing exactly `text` (not empty): a fence of a
    length `text` holds no run of, and a space each side when needed."""
    runs = {len(r) for r in re.findall(r"`+", text)}
    fence = "`" * next(n for n in range(1, len(runs) + 2) if n not in runs)
    padded = text[:1] == "`" or text[-1:] == "`" or (text[:1] == " " and text[-1:] == " " and text.strip(" "))
    return f"{fence} {text} {fence}" if padded else f"{fence}{text}{fence}"


def _rewrite_spans(markdown: str, values: list[str], spans: list[_Span]) -> str | None:
    """`markdown` with each of `spans` written again around its values, under a fence
    they cannot close; None when a span's fences cannot be found."""
    edits: list[tuple[int, int, str]] = []
    for span in spans:
        n, slots = len(span.markup), span.slots
        first = markdown.index(_slot(slots[0]))
        last = markdown.index(_slot(slots[-1])) + len(_slot(slots[-1]))
        opener = None
        for run in re.finditer(r"`+", markdown[:first]):
            length = len(run.group())
            if length == n or (length == n + 1 and markdown[run.start() - 1 : run.start()] == "\\"):
                opener = run.end() - n
        closer = next((r for r in re.finditer(r"`+", markdown[last:]) if len(r.group()) == n), None)
        if opener is None or closer is None:
            return None
        text = span.content
        for i in slots:
            text = text.replace(_slot(i), values[i])
        edits.append((opener, last + closer.end(), _code_span(text) if text else ""))
    for start, end, code in sorted(edits, reverse=True):
        markdown = markdown[:start] + code + markdown[end:]
    return markdown
