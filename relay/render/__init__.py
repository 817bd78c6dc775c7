"""The relay's own rendering (SPEC "Design and templates"): design + template + language +
data -> a finished MIME message. Pure: no sockets, no database, no file writes; it imports
nothing else of the relay (a leaf, like bounces/ and dns_checks/).

Entry points (every refusal is a RenderError; str() is one line naming template, line and
variable):

    design = Design.create(header_image=png, primary="#1a56db", font="Inter", footer="...")
    design = Design.from_json(row["design"])           # and design.to_json() to store it
    template = default_template("payment-reminder", "de")   # or the shop's own:
    template = TemplateSource.from_file_text(kind, language, text); check_template(template)
    rendered = render_message(design, template, data, Envelope(sender, sender_name,
                                                              recipient, order=..., date=...))
    rendered.message    # CRLF bytes with X-Relay-Kind/-Order/-Rendered, for the pipeline
    rendered.template   # 'payment-reminder/de default 3f2a9c0b1d4e', for the history
    render_shop_layout(design, html, text, subject, kind, language, envelope)  # X-Relay-Layout
    sample_data(kind, language), sample_envelope(language)   # previews and test e-mails
"""

from relay.render.design import Design, HeaderImage, read_header_image
from relay.render.errors import RenderError
from relay.render.mime import KIND_HEADER, ORDER_HEADER, RENDERED_HEADER, Envelope, Parts
from relay.render.render import (
    Rendered,
    check_template,
    render_message,
    render_parts,
    render_shop_layout,
    sample_data,
    sample_envelope,
)
from relay.render.templates import BUILTIN_KINDS, LANGUAGES, TemplateSource, default_template

__all__ = [
    "BUILTIN_KINDS",
    "KIND_HEADER",
    "LANGUAGES",
    "ORDER_HEADER",
    "RENDERED_HEADER",
    "Design",
    "Envelope",
    "HeaderImage",
    "Parts",
    "RenderError",
    "Rendered",
    "TemplateSource",
    "check_template",
    "default_template",
    "read_header_image",
    "render_message",
    "render_parts",
    "render_shop_layout",
    "sample_data",
    "sample_envelope",
]
