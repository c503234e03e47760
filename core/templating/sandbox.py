"""The template render budget (issue #8): what a template may cost, at save and at send.

A template is the clinic's text with a few variables; nothing in it needs to build a
string of megabytes, a number of 100,000 digits or a loop of millions of turns. The
bombs that passed — `{{ 'a' * 10**9 }}`, `{{ x * 100000000 }}` after `{% set x =
patient.first_name %}`, a `*` hidden in a branch the preview patient never takes,
`center(10**9)`, `indent(10**9)`, chained `replace`, 10⁸-turn loops, `{{ 10**100000 }}`,
a 50 MB template — are stopped three ways:

1. Before parsing: a field's source over `MAX_SOURCE_CHARS` is refused.
2. Statically, on the parsed template (so it does not depend on which patient the
   preview uses): `*`, `**`, `/`, `//` and `%` only between numbers; number constants
   within `MAX_NUMBER`; `{% macro %}`, `{% call %}`, `{% filter %}`, block `{% set %}`
   and recursive loops refused (they buffer output out of the budget's sight); the
   filters that reach attributes or format (`attr`, `map`, `format`, `sort`, ...) are not
   in the sandbox at all.
3. While rendering (at save with the example values, at send with the patient's):
   every output chunk counted against the field's `MAX_OUTPUT_CHARS`, every loop turn
   against `MAX_ITERATIONS`, the clock against `MAX_SECONDS`; `~`, `+` and `*` on text
   refuse a result over the output budget before building it, `**` a number over
   `MAX_NUMBER_BITS`; `center`, `indent`, `replace`, `wordwrap`, `join`, `truncate`
   check their arguments first. A send over budget fails that delivery with reason
   `template`; the daemon carries on.

`BudgetExceeded` is what the sandbox raises; `core.templating` reports it with the
template line, like any other template error.
"""

from __future__ import annotations

import operator
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from core import formats
from core.i18n import N_, _
from core.templating import jinjawords

MAX_SOURCE_CHARS = 64 * 1024  # one field's template text
MAX_OUTPUT_CHARS = 64 * 1024  # one field's rendered text (a push has its own 178)
MAX_ITERATIONS = 10_000  # loop turns in one field's render
MAX_SECONDS = 2.0  # one field's render
MAX_NUMBER = 10**9  # a number constant, or a `**` result
MAX_NUMBER_BITS = 64 * 8  # a computed integer (about 154 digits)
MAX_WIDTH = 1000  # center / indent / wordwrap / truncate widths

# filters a message template has no use for, and that reach attributes, format, or
# build collections (`map(attribute=...)` printed "Undefined" into a message)
REMOVED_FILTERS = (
    "attr",
    "batch",
    "dictsort",
    "format",
    "groupby",
    "items",
    "map",
    "max",
    "min",
    "pprint",
    "rejectattr",
    "selectattr",
    "slice",
    "sort",
    "sum",
    "tojson",
    "unique",
    "xmlattr",
)
_REFUSED_NODES: dict[type, str] = {
    nodes.Macro: N_("{% macro %} is not allowed"),
    nodes.CallBlock: N_("{% call %} is not allowed"),
    nodes.FilterBlock: N_("{% filter %} blocks are not allowed; use a filter in {{ }}"),
    nodes.AssignBlock: N_("{% set %}...{% endset %} blocks are not allowed; use {% set x = ... %}"),
}
_NUMERIC_OPS: dict[type, str] = {nodes.Mul: "*", nodes.Pow: "**", nodes.Div: "/", nodes.FloorDiv: "//", nodes.Mod: "%"}


class BudgetExceeded(SecurityError):
    """A template that would cost more than a message may (size, time, loop turns)."""


# --- static checks -----------------------------------------------------------------------


def source_problem(source: str) -> str | None:
    """Why a field's source is refused before parsing, or None."""
    if len(source) > MAX_SOURCE_CHARS:
        return _("the template is {n} characters; at most {max} a field").format(
            n=formats.number(len(source)), max=formats.number(MAX_SOURCE_CHARS)
        )
    if "\x00" in source:  # PostgreSQL cannot store it; no message needs it
        return _("a NUL character (U+0000) is not allowed")
    return None


def static_problems(ast: nodes.Template) -> list[tuple[int, str]]:
    """(line, message) for what the budget refuses whatever the patient."""
    out: list[tuple[int, str]] = []
    for node in ast.find_all(nodes.Node):
        message = _REFUSED_NODES.get(type(node))
        if message:
            message = _(message)
            out.append((node.lineno, message))
        elif isinstance(node, nodes.For) and node.recursive:
            out.append((node.lineno, _("recursive loops are not allowed")))
        elif isinstance(node, nodes.BinExpr) and type(node) in _NUMERIC_OPS:
            op = _NUMERIC_OPS[type(node)]
            if not (_numeric(node.left) and _numeric(node.right)):
                out.append(
                    (
                        node.lineno,
                        _("'{op}' is only for numbers here (repeating or formatting text is not)").format(op=op),
                    )
                )
            else:
                try:
                    _number_value(node)
                except BudgetExceeded as e:
                    out.append((node.lineno, str(e)))
        elif isinstance(node, nodes.Const) and _is_number(node.value) and abs(node.value) > MAX_NUMBER:
            out.append((node.lineno, _("the number {n} is too large for a message").format(n=_short(node.value))))
    return sorted(set(out))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _numeric(node: nodes.Node) -> bool:
    """A number literal or arithmetic on number literals only."""
    if isinstance(node, nodes.Const):
        return _is_number(node.value)
    if isinstance(node, nodes.Neg | nodes.Pos):
        return _numeric(node.node)
    if isinstance(node, nodes.BinExpr):
        return _numeric(node.left) and _numeric(node.right)
    return False


def _number_value(node: nodes.Node) -> Any:
    """The value of a constant arithmetic expression, computed under the budget."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg):
        return -_number_value(node.node)
    if isinstance(node, nodes.Pos):
        return _number_value(node.node)
    assert isinstance(node, nodes.BinExpr)  # _numeric() let nothing else through
    left, right = _number_value(node.left), _number_value(node.right)
    try:
        return _arith(node.operator, left, right)
    except (ArithmeticError, ValueError):
        return 0  # a division by zero and such: the render reports it with its line


def _short(n: Any) -> str:
    s = str(n) if not isinstance(n, int) or n.bit_length() < 200 else f"of {n.bit_length()} bits"
    return s if len(s) <= 40 else s[:20] + "…"


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "**" and _is_number(left) and _is_number(right):
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * abs(left).bit_length() > MAX_NUMBER_BITS:
                raise BudgetExceeded(
                    _("{power} is too large a number for a message").format(power=f"{_short(left)} ** {_short(right)}")
                )
    result = _BINOPS[op](left, right)
    if isinstance(result, int) and result.bit_length() > MAX_NUMBER_BITS:
        raise BudgetExceeded(_("a number of {n} bits is too large for a message").format(n=result.bit_length()))
    return result


_BINOPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


# --- the AST the budget renders ---------------------------------------------------------


def harden(ast: nodes.Template) -> nodes.Template:
    """Route every loop's iterable through `_budget_iter` and every `~` through
    `_budget_concat` (filters only this sandbox has), so both are counted."""
    for node in list(ast.find_all(nodes.For)):
        node.iter = nodes.Filter(node.iter, "_budget_iter", [], [], None, None, lineno=node.lineno)
    _replace_concat(ast)  # a Concat is replaced in its parent's fields
    return ast


def _replace_concat(node: nodes.Node) -> None:
    for field in node.fields:
        value = getattr(node, field, None)
        if isinstance(value, nodes.Concat):
            setattr(node, field, _concat_call(value))
        elif isinstance(value, list):
            setattr(node, field, [_concat_call(v) if isinstance(v, nodes.Concat) else v for v in value])
    for child in node.iter_child_nodes():
        _replace_concat(child)


def _concat_call(node: nodes.Concat) -> nodes.Filter:
    return nodes.Filter(
        nodes.List(node.nodes, lineno=node.lineno), "_budget_concat", [], [], None, None, lineno=node.lineno
    )


# --- the budget while rendering ----------------------------------------------------------


class _Budget(threading.local):
    deadline: float = 0.0
    turns: int = 0
    limit: int = MAX_OUTPUT_CHARS


_budget = _Budget()


def _check_time() -> None:
    if _budget.deadline and time.monotonic() > _budget.deadline:
        raise BudgetExceeded(_("the template took more than {n} s to render").format(n=f"{MAX_SECONDS:g}"))


def _check_size(n: int, rendered: bool = False) -> None:
    if n > _budget.limit:
        if rendered:
            said = _("the rendered text would be {n} characters; at most {max}")
        else:
            said = _("the text would be {n} characters; at most {max}")
        raise BudgetExceeded(said.format(n=formats.number(n), max=formats.number(_budget.limit)))


def check_rendered_size(n: int, limit: int = MAX_OUTPUT_CHARS) -> None:
    """BudgetExceeded when a field's text, once its values are put in, is over `limit`."""
    if n > limit:
        said = _("the rendered text would be {n} characters; at most {max}")
        raise BudgetExceeded(said.format(n=formats.number(n), max=formats.number(limit)))


def render(template, context: Mapping[str, Any], limit: int = MAX_OUTPUT_CHARS) -> str:
    """`template.render(context)` under the budget: output, time and loop turns."""
    _budget.deadline = time.monotonic() + MAX_SECONDS
    _budget.turns = 0
    _budget.limit = limit
    size = 0
    out: list[str] = []
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            _check_size(size, rendered=True)
            _check_time()
            out.append(chunk)
    finally:
        _budget.deadline = 0.0
    return "".join(out)


def _budget_iter(value: Iterable) -> Iterator:
    for item in value:
        _budget.turns += 1
        if _budget.turns > MAX_ITERATIONS:
            raise BudgetExceeded(_("the loops turn more than {n} times").format(n=formats.number(MAX_ITERATIONS)))
        _check_time()
        yield item


def _budget_concat(parts: list) -> str:
    strings = [str(p) for p in parts]
    _check_size(sum(map(len, strings)))
    return "".join(strings)


def _len(v: Any) -> int:
    return len(v) if isinstance(v, str | list | tuple) else 0


def _check_filter(name: str, value: Any, args: tuple, kwargs: dict) -> None:
    """Refuse a filter call whose result would be over the budget, before making it."""

    def arg(i: int, key: str, default: Any) -> Any:
        return args[i] if len(args) > i else kwargs.get(key, default)

    n = len(str(value)) if value is not None else 0
    if name == "center":
        width = arg(0, "width", 80)
        if isinstance(width, int) and width > MAX_WIDTH:
            raise BudgetExceeded(
                _("{call}: a width of at most {max}").format(call=f"center({_short(width)})", max=MAX_WIDTH)
            )
    elif name == "indent":
        width = arg(0, "width", 4)
        w = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        if w > MAX_WIDTH:
            call = f"indent({_short(width) if isinstance(width, int) else '…'})"
            raise BudgetExceeded(_("{call}: at most {max}").format(call=call, max=MAX_WIDTH))
        _check_size(n + (str(value).count("\n") + 1) * w)
    elif name == "wordwrap":
        width = arg(0, "width", 79)
        if isinstance(width, int) and (width > MAX_WIDTH or width < 1):
            raise BudgetExceeded(
                _("{call}: a width from 1 to {max}").format(call=f"wordwrap({_short(width)})", max=MAX_WIDTH)
            )
        _check_size(n * (1 + _len(arg(2, "wrapstring", None) or "\n")))
    elif name == "truncate":
        length = arg(0, "length", 255)
        if isinstance(length, int) and length > MAX_OUTPUT_CHARS:
            raise BudgetExceeded(
                _("{call}: at most {max}").format(
                    call=f"truncate({_short(length)})", max=formats.number(MAX_OUTPUT_CHARS)
                )
            )
    elif name == "replace":
        s, old, new = str(value), str(arg(0, "old", "")), str(arg(1, "new", ""))
        count = arg(2, "count", None)
        hits = s.count(old) if old else n + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _check_size(n + hits * max(len(new) - len(old), 0))
    elif name == "join":
        sep = arg(0, "d", "")
        items = value if isinstance(value, list | tuple | str) else []
        _check_size(sum(len(str(i)) for i in items) + max(len(items) - 1, 0) * _len(sep))


def _wrap(name: str, fn):
    passes = getattr(fn, "jinja_pass_arg", None)

    def wrapped(*args, **kwargs):
        rest = args[1:] if passes is not None else args
        _check_filter(name, rest[0] if rest else None, tuple(rest[1:]), kwargs)
        return fn(*args, **kwargs)

    if passes is not None:
        wrapped.jinja_pass_arg = passes  # type: ignore[attr-defined]
    wrapped.__name__ = fn.__name__
    return wrapped


class BudgetSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the budget: arithmetic intercepted, filters bounded."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in REMOVED_FILTERS:
            self.filters.pop(name, None)
        for name in ("center", "indent", "wordwrap", "truncate", "replace", "join"):
            self.filters[name] = _wrap(name, self.filters[name])
        self.filters["_budget_iter"] = _budget_iter
        self.filters["_budget_concat"] = _budget_concat

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise BudgetExceeded("'%' formatting of text is not allowed")
        if operator == "*":
            for text, times in ((left, right), (right, left)):
                if isinstance(text, str | list | tuple) and isinstance(times, int):
                    _check_size(len(text) * max(times, 0))
        if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _check_size(len(left) + len(right))
        return _arith(operator, left, right)


def compile_field(env: BudgetSandbox, source: str):
    """(ast, template, [(line, message)]): the source checked for size, parsed, checked
    statically, hardened and compiled; ast and template are None when it is refused. A
    template too deeply nested for the parser or for Python's compiler is a problem,
    not a traceback."""
    problem = source_problem(source)
    if problem:
        return None, None, [(None, problem)]
    try:
        ast = env.parse(source)
        static = static_problems(ast)
        if static:
            return None, None, static
        template = env.from_string(harden(ast))
    except TemplateSyntaxError as error:
        return (
            None,
            None,
            [(error.lineno, _("syntax error: {error}").format(error=jinjawords.syntax(error.message or "")))],
        )
    except (RecursionError, SyntaxError, MemoryError):
        return None, None, [(None, _("the template is nested too deeply"))]
    return ast, template, []
