"""The entry points: design + template + language + data (+ envelope) -> parts or MIME bytes.

Pure: no sockets, no database, no writes; the result depends only on the arguments (the Date
header on `envelope.date`). Every refusal is a RenderError.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import inscriptis

from relay.render import sandbox
from relay.render.design import Design
from relay.render.errors import RenderError
from relay.render.fields import SCHEMAS, check_data
from relay.render.formats import LOCALES
from relay.render.html import mjml_to_html, shop_body
from relay.render.markup import check_markup
from relay.render.mime import Envelope, Parts, build_message, content_id
from relay.render.templates import TemplateSource
from relay.render.variables import check_variables

PAGE_BACKGROUND = "#f3f4f6"  # around the card; no text sits on it
SHOP_LAYOUT = "shop-layout"
MAX_SUBJECT = 250
TEXT_WIDTH = 76
SIGNATURE_SEPARATOR = "-- "  # RFC 3676 4.3: the footer below it is a signature
_SHOP_BODY_MARKER = "relay-shop-body-8c1d0e5b"  # replaced by the body after MJML
# The names templates see besides the data (`subject` only in the bodies).
CONTEXT_NAMES = ("shop_name", "order", "kind", "language", "recipient", "layout", "subject")


@dataclass(frozen=True)
class Rendered:
    message: bytes  # CRLF, 7-bit, ready for the submission path (X-Relay-* headers included)
    parts: Parts
    template: str  # 'payment-reminder/de default 3f2a9c0b1d4e' (also in X-Relay-Rendered)


def render_message(
    design: Design,
    template: TemplateSource,
    data: Any,
    envelope: Envelope,
) -> Rendered:
    """The finished message for `template` (its kind and language) and `data`."""
    parts = render_parts(design, template, data, envelope)
    message = build_message(parts, envelope, template.kind, template.reference)
    return Rendered(message, parts, template.reference)


def render_parts(design: Design, template: TemplateSource, data: Any, envelope: Envelope) -> Parts:
    values = check_data(template.kind, data, f"{template.kind}/{template.language} data")
    if template.kind in SCHEMAS and not envelope.order:
        raise RenderError(
            f"{template.kind} needs the order number (X-Relay-Order)", variable="order"
        )
    context = _context(design, template.kind, template.language, envelope, values)
    subject = _subject(_run(template, "subject", context), template.name("subject"))
    context["subject"] = subject
    mjml = _run(template, "html", context)
    html = mjml_to_html(mjml, template.name("html"))
    text = _run(template, "text", context)
    return Parts(subject, html, _clean_text(text), design.header, context["layout"]["cid"])


def render_shop_layout(
    design: Design,
    html: str,
    text: str | None,
    subject: str,
    kind: str,
    language: str,
    envelope: Envelope,
) -> Rendered:
    """X-Relay-Layout: shop: the shop's own HTML (and text, else converted from the HTML by
    inscriptis) wrapped in its design; `subject` is the shop's, as submitted."""
    body = shop_body(html)
    if text is None or not text.strip():
        text = inscriptis.get_text(body)
    context = _context(design, kind, language, envelope, {})
    context.update(subject=_subject(subject, SHOP_LAYOUT), shop_body_marker=_marker())
    layout = sandbox.compiled(f"{SHOP_LAYOUT}.mjml", _package(f"{SHOP_LAYOUT}.mjml"))
    mjml = sandbox.render(layout, context, f"{SHOP_LAYOUT}.mjml")
    page = mjml_to_html(mjml, f"{SHOP_LAYOUT}.mjml")
    if page.count(_marker()) != 1:
        raise RenderError("the layout lost the place for the shop's body", template=SHOP_LAYOUT)
    page = page.replace(_marker(), body)
    context["shop_text"] = text.strip()
    text_layout = sandbox.compiled(f"{SHOP_LAYOUT}.txt", _package(f"{SHOP_LAYOUT}.txt"))
    text_out = sandbox.render(text_layout, context, f"{SHOP_LAYOUT}.txt")
    parts = Parts(
        context["subject"], page, _clean_text(text_out), design.header, context["layout"]["cid"]
    )
    reference = f"{SHOP_LAYOUT}/{language} default"
    return Rendered(build_message(parts, envelope, kind, reference), parts, reference)


def sample_data(kind: str, language: str) -> dict[str, Any]:
    """Realistic data for previews, test e-mails and goldens."""
    samples = _samples()
    if language not in samples or kind not in samples[language]:
        raise RenderError(f"no sample data for {kind!r} in {language!r}", variable="kind")
    return dict(samples[language][kind])


def sample_envelope(language: str, recipient: str = "kunde@example.org") -> Envelope:
    identity = _samples()[language]["identity"]
    return Envelope(
        sender="info@shop.example.com",
        sender_name=identity["shop_name"],
        recipient=recipient,
        order=identity["order"],
    )


def check_template(template: TemplateSource, design: Design | None = None) -> None:
    """Refuse a shop's template before it is stored: it must compile, name only the variables
    its kind has, carry no raw HTML nor references other than https links (relay.render.markup),
    and render the kind's sample data (built-in kinds)."""
    check_variables(template, CONTEXT_NAMES)
    check_markup(template.html, template.name("html"))
    if template.language in LOCALES:
        try:
            data = sample_data(template.kind, template.language)
        except RenderError:
            return  # a shop-defined kind: no sample to try it on
        render_message(design or Design(), template, data, sample_envelope(template.language))


def _context(
    design: Design, kind: str, language: str, envelope: Envelope, values: dict[str, Any]
) -> dict[str, Any]:
    if language not in LOCALES:
        raise RenderError(f"language {language!r} is not one of {', '.join(LOCALES)}")
    cid = content_id(design.header, envelope.sender) if design.header else None
    layout = {
        "primary": design.primary,
        "text": design.text,
        "background": design.background,
        "page": PAGE_BACKGROUND,
        "font": design.font,
        "footer_lines": design.footer.splitlines() if design.footer else [],
        "cid": cid,
        "header_src": f"cid:{cid}" if cid else None,
        "header_width": min(design.header.width, 600) if design.header else 0,
    }
    context = dict(values)
    context.update(
        shop_name=envelope.sender_name,
        order=envelope.order,
        kind=kind,
        language=language,
        recipient="" if envelope.undisclosed else envelope.recipient,
        layout=layout,
    )
    return context


def _run(template: TemplateSource, part: str, context: dict[str, Any]) -> str:
    name = template.name(part)
    return sandbox.render(sandbox.compiled(name, template.source(part)), context, name)


def _subject(text: str, template: str) -> str:
    """One line (a header: RFC 5322 2.2), never empty."""
    subject = " ".join(text.split())
    if not subject:
        raise RenderError("the subject is empty", template=template)
    if len(subject) > MAX_SUBJECT:
        raise RenderError(f"the subject is longer than {MAX_SUBJECT} characters", template=template)
    return subject


def _clean_text(text: str) -> str:
    """Lines wrapped at 76 characters (a word longer than that, such as a link, stays whole),
    no trailing blanks, at most one empty line in a row, one final newline."""
    kept: list[str] = []
    for raw in text.strip("\n").split("\n"):
        line = raw if raw == SIGNATURE_SEPARATOR else raw.rstrip()
        if not line and (not kept or not kept[-1]):
            continue
        if len(line) <= TEXT_WIDTH:
            kept.append(line)
            continue
        kept += textwrap.wrap(line, TEXT_WIDTH, break_long_words=False, break_on_hyphens=False) or [
            line
        ]
    return "\n".join(kept).strip("\n") + "\n"


def _marker() -> str:
    return _SHOP_BODY_MARKER


@lru_cache(maxsize=8)
def _package(name: str) -> str:
    return resources.files("relay.render").joinpath("templates", name).read_text("utf-8")


@lru_cache(maxsize=1)
def _samples() -> dict[str, Any]:
    return json.loads(resources.files("relay.render").joinpath("samples.json").read_text("utf-8"))
