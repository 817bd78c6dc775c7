"""The SMTP ways into the relay's rendering (SPEC "Design and templates"):

- `X-Relay-Template: KIND` with a JSON body (`Content-Type: application/json`, UTF-8):
  `{"data": {...}, "language": "en"}` (`language` optional: the design's default). The template
  writes Subject and body; `X-Relay-Order` gives the order.
- `X-Relay-Layout: shop`: the shop's own HTML part (and text part, else one made from the HTML)
  wrapped in its design; the Subject is the shop's; `X-Relay-Kind` as for any message.

To and From: the submitted `To` header when there is one (so a Bcc'd archive address on the
envelope stays hidden), else the one envelope recipient, or `undisclosed-recipients:;` for
several (no customer's copy shows another's address); the submitted `From` (the pipeline checks
that it belongs to the shop), else the shop's sender and name. Message-ID, Reply-To,
In-Reply-To, References and X-Relay-Test are carried over as submitted. The result is a new
RawMessage that the pipeline then prepares like any other; every refusal is a RenderError.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import quopri
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Protocol

from relay.kinds import IMPLICIT_KIND
from relay.model import Shop
from relay.prepare.headers import RawMessage, decoded
from relay.render import (
    Design,
    Envelope,
    RenderError,
    TemplateSource,
    render_message,
    render_shop_layout,
)

TEMPLATE_HEADER = "x-relay-template"
LAYOUT_HEADER = "x-relay-layout"
LAYOUTS = ("shop",)
CARRIED = ("message-id", "reply-to", "in-reply-to", "references", "x-relay-test")
JSON_KEYS = ("data", "language")
# The data of a notification is a few dozen short fields (relay.render.fields caps them at 100
# keys of at most 2,000 characters): anything much larger is a mistake, and parsing it would
# hold up the other sessions of the worker.
MAX_JSON = 256 * 1024
# A cid: reference points at a part of the shop's message, which the design's message has not.
# Possessive (`*+`, `?+`): nothing is given back, so a long run of white space after `src=` is
# read once; `\s*=\s*["']?\s*` backtracked quadratically over it (160 KB: minutes).
_CID = re.compile(r"""(?:src|href|background)\s*+=\s*+["']?+\s*+cid:""", re.IGNORECASE)
# The shop's message is parsed whole by `email` (slow on many parts): refused before that
# when larger than a notification ever is, or with more MIME parts than a text, an HTML and a
# few attachments.
MAX_LAYOUT_OCTETS = 2 * 1024 * 1024
MAX_LAYOUT_PARTS = 50


class Assets(Protocol):
    """Where the shop's design and templates come from (relay.compose.StoredAssets)."""

    def design(self, shop: Shop) -> Design: ...

    def template(self, shop: Shop, kind: str, language: str) -> TemplateSource: ...


@dataclass(frozen=True)
class Request:
    layout: bool  # X-Relay-Layout: shop (else X-Relay-Template)
    kind: str


def read_request(message: RawMessage) -> Request | None:
    """What the headers ask for: a template, the shop layout, or nothing (None)."""
    template, layout = message.get(TEMPLATE_HEADER), message.get(LAYOUT_HEADER)
    if template is None and layout is None:
        return None
    if template is not None and layout is not None:
        raise RenderError("use X-Relay-Template or X-Relay-Layout, not both")
    declared = (message.get("x-relay-kind") or "").strip().lower()
    if layout is not None:
        if layout.strip().lower() not in LAYOUTS:
            raise RenderError(
                f"X-Relay-Layout {layout.strip()!r} is unknown; the one layout is 'shop'",
                variable="layout",
            )
        return Request(layout=True, kind=declared or IMPLICIT_KIND)
    kind = (template or "").strip().lower()
    if not kind:
        raise RenderError("X-Relay-Template is empty; name the kind", variable="kind")
    if declared and declared != kind:
        raise RenderError(
            f"X-Relay-Kind {declared!r} and X-Relay-Template {kind!r} disagree", variable="kind"
        )
    return Request(layout=False, kind=kind)


def render_request(
    request: Request, message: RawMessage, rcpt_tos: list[str], shop: Shop, assets: Assets
) -> RawMessage:
    """The rendered message, with the carried headers of the submitted one."""
    envelope = _envelope(message, rcpt_tos, shop)
    design = assets.design(shop)
    if request.layout:
        parsed = _parse(message)
        html, text = _shop_parts(parsed)
        subject = str(parsed.get("subject") or "").strip()
        if not subject:
            raise RenderError("X-Relay-Layout: shop needs a Subject", variable="subject")
        rendered = render_shop_layout(
            design, html, text, subject, request.kind, design.language, envelope
        )
    else:
        data, language = _json_body(message)
        template = assets.template(shop, request.kind, language or design.language)
        rendered = render_message(design, template, data, envelope)
    out = RawMessage.parse(rendered.message)
    out.fields[:0] = [(name, raw) for name, raw in message.fields if name in CARRIED]
    return out


def _parse(message: RawMessage) -> EmailMessage:
    if message.body_size > MAX_LAYOUT_OCTETS:
        raise RenderError(
            f"X-Relay-Layout: shop takes a message of at most {MAX_LAYOUT_OCTETS // 1024} KB;"
            f" this one has {message.body_size // 1024} KB",
            variable="html",
        )
    body = message.body()
    parts = body.count(b"\n--") + body.startswith(b"--")  # at most: boundary lines
    if parts > MAX_LAYOUT_PARTS:
        raise RenderError(
            f"X-Relay-Layout: shop takes at most {MAX_LAYOUT_PARTS} MIME parts; this message"
            f" has about {parts}",
            variable="html",
        )
    parsed = email.message_from_bytes(message.to_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _envelope(message: RawMessage, rcpt_tos: list[str], shop: Shop) -> Envelope:
    to = _addresses(message, "to")
    sender = _addresses(message, "from")
    if sender and len(sender) > 1:
        raise RenderError("the From header must name one address", variable="from")
    recipient_name, recipient = to[0] if to else ("", rcpt_tos[0])
    return Envelope(
        sender=sender[0][1] if sender else shop.sender,
        sender_name=(sender[0][0] if sender else "") or shop.sender_name,
        recipient=recipient,
        recipient_name=recipient_name or None,
        order=message.get("x-relay-order") or None,
        also_to=tuple(address for _, address in to[1:]),
        undisclosed=not to and len(rcpt_tos) > 1,  # one copy for all: name none of them
    )


def _addresses(message: RawMessage, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of the one `name` header; [] when there is none. The
    `email.utils` parser: the `email.headerregistry` one cost 0.7 ms a message here."""
    value = message.get(name)
    if value is None:
        return []
    if message.count(name) > 1:
        raise RenderError(f"the message has more than one {name.title()} header", variable=name)
    found = [(decoded(n), a) for n, a in getaddresses([value]) if "@" in a.strip("@")]
    if not found:
        raise RenderError(f"the {name.title()} header has no readable address", variable=name)
    return found


def _json_body(message: RawMessage) -> tuple[Any, str | None]:
    content_type = (message.get("content-type") or "text/plain").split(";", 1)[0]
    if content_type.strip().lower() != "application/json":
        raise RenderError(
            "X-Relay-Template needs the data as the body with Content-Type: application/json,"
            f" not {content_type.strip() or 'none'}",
            variable="data",
        )
    try:
        text = _decoded_body(message).decode("utf-8")  # RFC 8259 8.1: JSON is UTF-8
    except UnicodeDecodeError as error:
        raise RenderError(f"the JSON body is not UTF-8: {error}", variable="data") from None
    if len(text) > MAX_JSON:
        raise RenderError(
            f"the JSON body has {len(text)} characters; at most {MAX_JSON}", variable="data"
        )
    body = _strict_json(text)
    if not isinstance(body, dict):
        raise RenderError('the JSON body must be an object: {"data": {...}}', variable="data")
    unknown = sorted(set(body) - set(JSON_KEYS))
    if unknown:
        raise RenderError(
            f"the JSON body has {unknown[0]!r}; it takes only 'data' and 'language'",
            variable=unknown[0],
        )
    if "data" not in body:
        raise RenderError('the JSON body has no "data" object', variable="data")
    language = body.get("language")
    if language is not None and not isinstance(language, str):
        raise RenderError('"language" must be text such as "de"', variable="language")
    return body["data"], language


def _decoded_body(message: RawMessage) -> bytes:
    """The body without its transfer encoding (RFC 2045 6)."""
    encoding = (message.get("content-transfer-encoding") or "7bit").strip().lower()
    if message.body_size > 2 * MAX_JSON:  # never read a spooled 25 MB body to refuse it
        raise RenderError(
            f"the JSON body has {message.body_size} octets; at most {MAX_JSON}", variable="data"
        )
    body = message.body()
    if encoding in ("7bit", "8bit", "binary"):
        return body
    if encoding == "quoted-printable":
        return quopri.decodestring(body)
    if encoding == "base64":
        try:
            return base64.b64decode(body)
        except (binascii.Error, ValueError) as error:
            raise RenderError(f"the base64 body is broken: {error}", variable="data") from None
    raise RenderError(f"unknown Content-Transfer-Encoding {encoding!r}", variable="data")


def _strict_json(text: str) -> Any:
    """RFC 8259: no NaN or Infinity, and (its SHOULD) no name twice in one object."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(items)
        if len(found) < len(items):  # a name came twice; which one, for the reply
            twice = _first_repeated(name for name, _ in items)
            raise RenderError(f"the JSON body names {twice!r} twice", variable=twice)
        return found

    def constant(name: str) -> Any:
        raise RenderError(f"the JSON body has {name}, which is not JSON", variable="data")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as error:
        raise RenderError(
            f"the JSON body is broken: {error.msg} (line {error.lineno}, column {error.colno})",
            variable="data",
        ) from None
    except RecursionError:  # '[[[[...': deeper than the parser goes
        raise RenderError("the JSON body is nested too deeply", variable="data") from None


def _first_repeated(names: Iterable[str]) -> str:
    """A set of the names seen: linear (`names.count(n)` for each was quadratic: 14 s)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return ""


def _shop_parts(parsed: EmailMessage) -> tuple[str, str | None]:
    html_part = parsed.get_body(preferencelist=("html",))
    if html_part is None:
        raise RenderError("X-Relay-Layout: shop needs an HTML part (text/html)", variable="html")
    text_part = parsed.get_body(preferencelist=("plain",))
    try:
        html = html_part.get_content()
        text = text_part.get_content() if text_part is not None else None
    except (LookupError, ValueError, UnicodeError) as error:
        raise RenderError(f"the shop's HTML part is unreadable: {error}", variable="html") from None
    if _CID.search(html):
        raise RenderError(
            "X-Relay-Layout: shop takes HTML without inline images (cid:); the header image"
            " comes from the design, other images by https:// link",
            variable="html",
        )
    return html, text
