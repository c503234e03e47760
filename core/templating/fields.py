"""One template field in the sandbox: compiled once (cached), its variable references
checked against the catalogue, rendered to text. Every `{{ expression }}` in a body is
inserted as literal Markdown text (`_markdown_literal`), so a patient value can add
neither a link, nor formatting, nor HTML."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from markdown_it import MarkdownIt

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
        text = sandbox.render(template, context)
    except Exception as error:  # the sandbox turns any template mistake into an exception
        raise TemplateRenderError(field, _template_line(error), jinjawords.runtime(error)) from error
    if field == "body":
        return text.strip()
    text = " ".join(text.split())
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
