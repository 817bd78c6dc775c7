"""The Jinja2 environment templates run in: sandboxed, strict, and on a budget.

Shop-supplied templates are hostile until proven otherwise, so on top of Jinja's
`ImmutableSandboxedEnvironment` (no `_` attributes, no mutation of lists and dicts):
- only package templates can be included or extended (no file access);
- a short list of attributes on data values and a short list of filters (none that can blow a
  small value up: no `format`, `center`, `replace`, `slice`, `batch`, nor `safe`, so a value is
  always escaped);
- a step budget: every loop iteration and every call (macros, `loop()`) counts; past
  MAX_STEPS, or MAX_CPU_SECONDS of this thread's CPU time, the render stops;
- string repetition and powers are capped, `range` is capped, output per part is capped;
- every value built from strings is capped at MAX_VALUE characters where it is built (`~`,
  `+`, `join`, a `{% set %}` block, a macro's output), printed or not: doubling a string
  27 times would otherwise make 1 GiB that no output cap ever sees;
- StrictUndefined and a `finalize` that refuses None: nothing prints as a blank.
Every failure comes out as one RenderError naming the template, the line and the variable.
"""

from __future__ import annotations

import contextvars
import datetime
import math
import re
import time
import traceback
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import (
    FunctionLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_eval_context,
)
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner
from jinja2.visitor import NodeTransformer

from relay.render.errors import RenderError
from relay.render.formats import FILTERS

MAX_STEPS = 20_000  # loop iterations + calls in one render (the default templates need < 100)
MAX_CPU_SECONDS = 0.5  # of this thread's CPU time, so a loaded machine does not trip it
MAX_RANGE = 1_000
MAX_REPEAT = 10_000  # characters or items made by `*` on a string or list
MAX_POWER_DIGITS = 100
MAX_OUTPUT = 512 * 1024  # characters of one rendered part
MAX_VALUE = MAX_OUTPUT  # characters of one string a template builds (printed or not)

STEP_FILTER = "relay_count_steps"
SIZE_FILTER = "relay_check_size"
_KEPT_FILTERS = frozenset(
    {"abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first"}
    | {"float", "forceescape", "groupby", "int", "items", "join", "last", "length", "list"}
    | {"lower", "map", "max", "min", "reject", "rejectattr", "reverse", "round", "select"}
    | {"selectattr", "sort", "string", "striptags", "sum", "title", "tojson", "trim"}
    | {"truncate", "unique", "upper", "urlencode", "wordcount"}
)
_ATTRIBUTES: tuple[tuple[type, frozenset[str]], ...] = (
    (
        str,
        frozenset({"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip"})
        | {"startswith", "endswith"},
    ),
    (dict, frozenset(("items", "keys", "values", "get"))),
    (datetime.date, frozenset(("year", "month", "day"))),
    (list | tuple | int | float | Decimal | bool | bytes, frozenset()),
)
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined|has no attribute '([^']+)'")


class _Budget:
    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.thread_time() + MAX_CPU_SECONDS

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RenderError(f"the template takes more than {MAX_STEPS} steps (loops, calls)")
        if self.steps % 64 == 0 and time.thread_time() > self.deadline:
            raise RenderError(f"the template runs longer than {MAX_CPU_SECONDS} s")


_BUDGET: contextvars.ContextVar[_Budget] = contextvars.ContextVar("render_budget")


def _tick() -> None:
    _BUDGET.get().tick()


def _count_steps(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _tick()
        yield item


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE:
        raise SecurityError(f"a value of more than {MAX_VALUE} characters or items")
    return value


def _sized(filter_name: str, node: nodes.Expr | None, lineno: int) -> nodes.Filter:
    return nodes.Filter(node, filter_name, [], [], None, None, lineno=lineno)


class _SizeChecks(NodeTransformer):
    """Every `~` concatenation and every `{% set %}...{% endset %}` block passes its result
    through the size filter (Jinja compiles neither as a call or an operator the sandbox sees).
    A block with a filter of its own (`{% set x | upper %}`) has it applied first."""

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _sized(SIZE_FILTER, node, node.lineno)

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        node.filter = _sized(SIZE_FILTER, node.filter, node.lineno)
        return node


class _CountingCodeGenerator(CodeGenerator):
    """Wraps the iterable of every `{% for %}` in the step-counting filter before the code is
    generated (Jinja's documented `code_generator_class` hook), so no loop runs unbudgeted."""

    def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = _sized(STEP_FILTER, loop.iter, loop.lineno)
        _SizeChecks().visit(node)
        super().visit_Template(node, frame)


class RenderEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _CountingCodeGenerator
    intercepted_binops = frozenset(("*", "**", "%", "+"))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for kind, allowed in _ATTRIBUTES:
            if isinstance(obj, kind):
                return attr in allowed
        return True  # Jinja's own objects: loop, caller, macros

    def wrap_str_format(self, value: Any) -> None:
        """No str.format / format_map at all (Jinja would hand out a sandboxed formatter, but
        a width such as '{:>999999999}' still makes a huge string); the filters format."""
        return None

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _check_size(super().call(__context, __obj, *args, **kwargs))  # a macro's output

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            _check_repeat(left, right)
        elif operator_ == "**":
            _check_power(left, right)
        elif operator_ == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting of text is not allowed; use the filters")
        elif operator_ == "+":
            _check_sum(left, right)
        return super().call_binop(context, operator_, left, right)


def _check_repeat(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
        if sized and len(seq) * count > MAX_REPEAT:
            raise SecurityError(f"'*' would make more than {MAX_REPEAT} characters or items")


def _check_sum(left: Any, right: Any) -> None:
    sized = (str, list, tuple)
    if isinstance(left, sized) and isinstance(right, sized) and len(left) + len(right) > MAX_VALUE:
        raise SecurityError(f"'+' would make more than {MAX_VALUE} characters or items")


@pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    """Jinja's `join`, its items measured before they are joined."""
    items = list(value)
    if attribute is None:
        size = sum(len(item) for item in items if isinstance(item, str | list | tuple))
        if size + len(d) * len(items) > MAX_VALUE:
            raise SecurityError(f"'join' would make more than {MAX_VALUE} characters")
    return _check_size(do_join(eval_ctx, items, d, attribute))


def _check_power(base: Any, exponent: Any) -> None:
    try:
        digits = float(exponent) * math.log10(max(abs(float(base)), 1.0))
    except (TypeError, ValueError, OverflowError):
        return  # not numbers: the operator itself raises
    if digits > MAX_POWER_DIGITS:
        raise SecurityError(f"'**' would make a number of more than {MAX_POWER_DIGITS} digits")


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return numbers


def _refuse_none(value: Any) -> Any:
    if value is None:
        raise RenderError("a value printed here is empty (None); guard it with {% if %}")
    return value


def _package_template(name: str) -> tuple[str, str, Any] | None:
    """Package templates only (layout, shared parts, defaults): the one place includes reach."""
    if ".." in name or name.startswith("/"):
        return None
    path = resources.files("relay.render").joinpath("templates", *name.split("/"))
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8"), name, lambda: True


def _environment() -> RenderEnvironment:
    env = RenderEnvironment(
        loader=FunctionLoader(_package_template),
        undefined=StrictUndefined,
        autoescape=lambda name: bool(name) and name.endswith((".mjml", ".html")),
        finalize=_refuse_none,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=200,
    )
    env.filters = {name: env.filters[name] for name in _KEPT_FILTERS}
    env.filters.update(FILTERS)
    env.filters[STEP_FILTER] = _count_steps
    env.filters[SIZE_FILTER] = _check_size
    env.filters["join"] = _join
    # No `namespace` (a value that grows across loop iterations), no `lipsum`.
    env.globals = {"range": _range, "dict": dict, "cycler": Cycler, "joiner": Joiner}
    return env


ENV = _environment()


@lru_cache(maxsize=512)
def compiled(name: str, source: str) -> Template:
    """`source` compiled under `name` (the name errors show); cached by both."""
    try:
        code = ENV.compile(source, name=name, filename=name)
    except TemplateSyntaxError as error:
        raise RenderError(
            f"syntax error: {error.message}", template=error.name or name, line=error.lineno
        ) from None
    return ENV.template_class.from_code(ENV, code, ENV.make_globals(None), None)


def render(template: Template, context: dict[str, Any], name: str) -> str:
    """Run `template` on a fresh budget; every failure becomes a RenderError with its place."""
    token = _BUDGET.set(_Budget())
    try:
        size, chunks = 0, []
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise RenderError(f"the output is longer than {MAX_OUTPUT} characters")
            chunks.append(chunk)
        return "".join(chunks)
    except Exception as error:  # the boundary of untrusted template code: all of it is ours
        raise _located(error, name) from None
    finally:
        _BUDGET.reset(token)


def _located(error: Exception, name: str) -> RenderError:
    template, line = _template_frame(error, name)
    if isinstance(error, RenderError):
        return error.located(template, line)
    if isinstance(error, TemplateSyntaxError):
        return RenderError(
            f"syntax error: {error.message}", template=error.name or template, line=error.lineno
        )
    if isinstance(error, UndefinedError):
        found = _UNDEFINED_NAME.search(error.message or "")
        variable = next((g for g in found.groups() if g), None) if found else None
        reason = f"unknown variable or missing value: {error.message}"
        return RenderError(reason, template=template, line=line, variable=variable)
    if isinstance(error, SecurityError):
        return RenderError(f"not allowed in a template: {error}", template=template, line=line)
    if isinstance(error, TemplateNotFound):
        return RenderError(f"no template {error.name!r} to include", template=template, line=line)
    kind = "template error" if isinstance(error, TemplateError) else type(error).__name__
    return RenderError(f"{kind}: {error}", template=template, line=line)


def _template_frame(error: BaseException, fallback: str) -> tuple[str, int | None]:
    """The innermost frame that is template code (Jinja rewrites tracebacks so that template
    frames carry the template's name and line)."""
    found: tuple[str, int | None] = (fallback, None)
    for frame, line in traceback.walk_tb(error.__traceback__):
        filename = frame.f_code.co_filename
        if filename.endswith((".mjml", ".txt", ".html")):
            found = (filename, line)
    return found
