"""A stored message as a document the console can show without danger (SPEC "Shop console":
sanitised HTML in a sandboxed frame, images from the message only).

The HTML part is sanitised with nh3 (Rust's ammonia: an allow-list of tags and attributes);
what is not on the list goes, content and all where it is code (`script`, `style`, `title`,
`template`, ...). Links keep http(s) and mailto targets only. Images keep only the message's
own pictures: a `cid:` reference (RFC 2392) to an image part of the message becomes a `data:`
URI, an inline `data:` image stays; a remote image (a tracking pixel, say), a relative URL
(which would point into the console) and SVG go. `style` attributes keep layout and colour
properties but nothing that can load (no `url()`, no `image-set`, no `@import`, no escapes
that could spell them). A `<style>` block of the message is kept only when it cannot load or
run anything either. The result is one more layer under the frame's own defences: the
`sandbox` attribute (no script, no forms, a unique origin) and a Content-Security-Policy that
lets only `data:` images and inline CSS in (relay.http.console.pages.FRAME_POLICY).
"""

from __future__ import annotations

import base64
import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser
from html import escape

import lxml.html
import nh3

MAX_IMAGE = 2 * 1024 * 1024  # a larger inline image is left out (the frame stays light)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

TAGS = {
    "a", "abbr", "address", "b", "blockquote", "br", "caption", "center", "cite", "code",
    "col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q", "s", "small", "span",
    "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "tt", "u", "ul",
}  # fmt: skip
# Dropped with everything inside them (the rest of what is not in TAGS keeps its text).
CONTENT_TAGS = {
    "script", "style", "title", "template", "noscript", "object", "embed", "iframe",
    "frame", "frameset", "applet", "svg", "math", "head", "select", "textarea", "button",
}  # fmt: skip
ATTRIBUTES = {
    "*": {"align", "valign", "dir", "lang", "title", "width", "height", "bgcolor", "style"},
    "a": {"href", "name"},
    "img": {"src", "alt", "border", "hspace", "vspace"},
    "table": {"border", "cellpadding", "cellspacing", "summary", "role"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
}
STYLE_PROPERTIES = {
    "background-color", "border", "border-bottom", "border-collapse", "border-color",
    "border-left", "border-radius", "border-right", "border-spacing", "border-style",
    "border-top", "border-width", "box-sizing", "color", "direction", "display", "float",
    "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
    "height", "letter-spacing", "line-height", "list-style-type", "margin", "margin-bottom",
    "margin-left", "margin-right", "margin-top", "max-height", "max-width", "min-height",
    "min-width", "mso-hide", "opacity", "overflow", "padding", "padding-bottom",
    "padding-left", "padding-right", "padding-top", "table-layout", "text-align",
    "text-decoration", "text-indent", "text-transform", "vertical-align", "visibility",
    "white-space", "width", "word-break", "word-spacing", "word-wrap",
}  # fmt: skip
LINK_SCHEMES = ("http:", "https:", "mailto:")
# Anything that can make CSS load or run something, however it is spelled (CSS escapes,
# comments inside a function name, old IE expressions and behaviours).
_CSS_DANGER = re.compile(
    r"url\s*\(|image-set|image\s*\(|@import|expression|behavior|binding|javascript:|\\|/\*|</",
    re.IGNORECASE,
)
_DATA_IMAGE = re.compile(r"data:(image/(?:png|jpeg|gif|webp));base64,[A-Za-z0-9+/=\s]+")


def safe_document(raw: bytes, empty_text: str) -> str:
    """The message as a complete HTML document for the console's frame."""
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):
        return _document("", _text_body(empty_text))
    part = message.get_body(preferencelist=("html", "plain"))
    if part is None:
        return _document("", _text_body(empty_text))
    content = _content(part)
    if part.get_content_type() != "text/html":
        return _document("", _text_body(content or empty_text))
    images = inline_images(message)
    return _document(_safe_styles(content), sanitize(content, images))


def sanitize(html: str, images: dict[str, str] | None = None) -> str:
    """The body of `html`, sanitised; `images` maps Content-IDs to `data:` URIs."""
    known = images or {}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        return _attribute(tag, attribute, value, known)

    cleaner = nh3.Cleaner(
        tags=TAGS,
        clean_content_tags=CONTENT_TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "data", "cid"},
        url_relative="deny",
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
    )
    return cleaner.clean(_body_of(html))


def _attribute(tag: str, attribute: str, value: str, images: dict[str, str]) -> str | None:
    if attribute == "style":
        return None if _CSS_DANGER.search(value) else value
    if tag == "img" and attribute == "src":
        return _image_source(value.strip(), images)
    if attribute == "href":
        return value if value.strip().lower().startswith(LINK_SCHEMES) else None
    return value


def _image_source(value: str, images: dict[str, str]) -> str | None:
    if value.lower().startswith("cid:"):
        return images.get(value[4:].strip("<>"))
    return value if _DATA_IMAGE.fullmatch(value) else None


def inline_images(message: EmailMessage) -> dict[str, str]:
    """Content-ID -> `data:` URI of each image part of the message (RFC 2392)."""
    found = {}
    for part in message.walk():
        cid = part.get("Content-ID")
        kind = part.get_content_type()
        if not cid or kind not in IMAGE_TYPES:
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and len(data) <= MAX_IMAGE:
            found[str(cid).strip().strip("<>")] = (
                f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
            )
    return found


def _body_of(html: str) -> str:
    """What is inside <body> (a whole document's head is no fragment to sanitise)."""
    try:
        document = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    body = document.find("body")
    if body is None:
        return html
    inner = (body.text and escape(body.text)) or ""
    return inner + "".join(lxml.html.tostring(child, encoding="unicode") for child in body)


def _safe_styles(html: str) -> str:
    """The message's <style> blocks that cannot load or run anything (MJML's @media rules,
    which make it readable on a phone), each as plain text."""
    try:
        document = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return ""
    kept = [s.text_content() for s in document.iter("style")]
    return "\n".join(css for css in kept if css and not _CSS_DANGER.search(css))


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset, broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _text_body(text: str) -> str:
    return f'<pre class="text">{escape(text)}</pre>'


def _document(styles: str, body: str) -> str:
    base = "body{margin:0;padding:8px;font-family:Arial,Helvetica,sans-serif}"
    base += ".text{white-space:pre-wrap;font:14px/1.5 monospace}img{max-width:100%;height:auto}"
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{base}\n{styles}</style></head><body>{body}</body></html>"
    )
