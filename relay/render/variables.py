"""Which variables a template reads, checked against what its kind provides (at upload time,
so a typo such as `{{ amout }}` is refused with its line before any customer is waiting)."""

from __future__ import annotations

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError

from relay.render import sandbox
from relay.render.errors import RenderError
from relay.render.fields import SCHEMAS
from relay.render.templates import PARTS, TemplateSource


def check_variables(template: TemplateSource, context_names: tuple[str, ...]) -> None:
    schema = SCHEMAS.get(template.kind)
    for part in PARTS:
        name = template.name(part)
        try:
            tree = sandbox.ENV.parse(template.source(part), name=name, filename=name)
        except TemplateSyntaxError as error:
            raise RenderError(
                f"syntax error: {error.message}", template=name, line=error.lineno
            ) from None
        sandbox.compiled(name, template.source(part))  # the compile step's own checks
        if schema is None:
            continue  # a shop-defined kind: any data may come; StrictUndefined guards it
        known = {f.name for f in schema} | set(context_names) | set(sandbox.ENV.globals)
        unknown = sorted(meta.find_undeclared_variables(tree) - known)
        if unknown:
            raise RenderError(
                f"unknown variable {unknown[0]!r}; {template.kind} templates can use:"
                f" {', '.join(sorted(known - set(sandbox.ENV.globals)))}",
                template=name,
                line=_first_use(tree, unknown[0]),
                variable=unknown[0],
            )


def _first_use(tree: nodes.Template, variable: str) -> int | None:
    lines = [n.lineno for n in tree.find_all(nodes.Name) if n.name == variable and n.ctx == "load"]
    return min(lines) if lines else None
