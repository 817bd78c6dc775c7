"""What a shop's template may not carry: raw HTML, and references to anything but https links.

A template is written by the shop and shown to others: customers' mail clients, the console's
preview, the PNG preview that headless Chromium draws on the relay's host. Raw HTML (`mj-raw`,
`iframe`, `script`, `object`, ...) and `src`/`href`/`url()` values that are not https links
(`file:///`, `http://10.0.0.1/`, a cloud metadata address) are refused when the template is
stored (`check_template`), so neither a reader nor the relay fetches what the shop points at.
Values from the data (`{{ payment_link }}`) are checked by their kind's schema, and printed
escaped. Every pattern here is linear: possessive repeats, no nested quantifiers.
"""

from __future__ import annotations

import re

from relay.render.errors import RenderError

_RAW_TAGS = (
    "mj-raw", "iframe", "frame", "frameset", "script", "object", "embed", "applet", "base",
    "link", "meta", "form", "svg", "math", "portal", "noscript",
)  # fmt: skip
_RAW_TAG = re.compile(rf"<\s*+/?\s*+({'|'.join(_RAW_TAGS)})\b", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(
    r"\b(src|href|background-url|background|srcset|action|formaction|poster|data|xlink:href)"
    r"\s*+=\s*+"
    r"([\"']?+)([^\"'\s>]*+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"(url\(|@import)\s*+[\"']?+([^\"')\s;]*+)", re.IGNORECASE)
# What a reference may be: an https link, mail, a place in the page, a value from the data
# (a Jinja expression, checked by the kind's schema), the design's header image (cid:).
_ALLOWED = ("https://", "mailto:", "#", "{{", "cid:")


def check_markup(source: str, template: str) -> None:
    """Refuse raw HTML and non-https references in a shop template's MJML source."""
    raw = _RAW_TAG.search(source)
    if raw:
        _refuse(
            source, raw.start(), template,
            f"<{raw.group(1).lower()}> is not allowed in a shop template: write MJML"
            " components (mj-text, mj-image, mj-button); raw HTML reaches mail clients and"
            " the preview unchecked",
        )  # fmt: skip
    for found in _URL_ATTRIBUTE.finditer(source):
        _check_reference(source, found.start(), found.group(3), found.group(1).lower(), template)
    for found in _CSS_URL.finditer(source):
        _check_reference(source, found.start(), found.group(2), found.group(1).lower(), template)


def _check_reference(source: str, at: int, value: str, where: str, template: str) -> None:
    if not value or value.lower().startswith(_ALLOWED):
        return
    shown = value if len(value) <= 60 else value[:57] + "..."
    _refuse(
        source, at, template,
        f"{where} {shown!r}: a shop template links only https:// addresses (or mailto:, #,"
        " a value from the data); images come from the design or an https:// address",
    )  # fmt: skip


def _refuse(source: str, at: int, template: str, reason: str) -> None:
    line = source.count("\n", 0, at) + 1
    raise RenderError(reason, template=template, line=line)
