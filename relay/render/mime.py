"""The finished message: CRLF bytes ready for the relay's normal submission path.

    multipart/related; type="multipart/alternative"     RFC 2387: the image belongs to the HTML
      multipart/alternative                              RFC 2046 5.1.4: plain first
        text/plain; charset=utf-8                        quoted-printable
        text/html; charset=utf-8                         quoted-printable
      image/png | image/jpeg                             base64, Content-ID, inline

Headers are encoded and folded by the standard `email` package (its SMTP policy: RFC 2047
encoded words for non-ASCII, folded at 78, CRLF); bodies are quoted-printable by
`binascii.b2a_qp` and base64 by `base64`, so every line is at most 76 octets (RFC 5322 2.1.1
allows 998) and the message is 7-bit clean. The three-level structure is joined here rather
than built as `EmailMessage` objects: that object model parses ~26 headers back and forth and
cost 2.3 ms a message, more than the whole rendering (bench/render); tests parse the result with
the `email` package. Boundaries are derived from the content (same input, same bytes).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import format_datetime

from relay.render.design import HeaderImage
from relay.render.errors import RenderError

# Read by the relay's pipeline and removed before sending (SPEC "Notification kinds").
KIND_HEADER = "X-Relay-Kind"
ORDER_HEADER = "X-Relay-Order"
RENDERED_HEADER = "X-Relay-Rendered"  # 'payment-reminder/de default 3f2a9c0b1d4e'
UNDISCLOSED = "undisclosed-recipients:;"  # RFC 5322 3.4: an empty group
# The SMTP policy (CRLF, 78 columns), told to parse every value: only a parsed header gets its
# non-ASCII words RFC 2047 encoded (the default leaves a short line as it is).
_HEADERS = SMTP.clone(refold_source="all")


@dataclass(frozen=True)
class Envelope:
    """Who the rendered message is from and to, and what it belongs to."""

    sender: str  # the From address (the pipeline checks it belongs to the shop)
    sender_name: str  # From display name; templates see it as `shop_name`
    recipient: str
    order: str | None = None  # X-Relay-Order; templates see it as `order`
    recipient_name: str | None = None
    date: datetime.datetime | None = None  # Date header; None: now
    message_id: str | None = None  # None: the pipeline adds one, as for submitted mail
    also_to: tuple[str, ...] = ()  # more addresses in To, after `recipient`
    # Several customers and no To of the shop's: no copy discloses the others' addresses
    # (RFC 5322 3.4 group syntax, `To: undisclosed-recipients:;`) and `recipient` is unset.
    undisclosed: bool = False


@dataclass(frozen=True)
class Parts:
    subject: str
    html: str
    text: str
    header: HeaderImage | None
    content_id: str | None  # without angle brackets; the HTML refers to cid:<content_id>


def content_id(header: HeaderImage, sender: str) -> str:
    """RFC 2392 content-id: stable for one image and sender domain."""
    digest = hashlib.sha256(header.data).hexdigest()[:16]
    return f"header-{digest}@{ascii_address(sender, 'sender').split('@', 1)[1]}"


def build_message(parts: Parts, envelope: Envelope, kind: str, template: str) -> bytes:
    head = _headers(parts, envelope, kind, template)
    alternative = _multipart(
        "alternative",
        [_text_part("plain", parts.text), _text_part("html", parts.html)],
    )
    if parts.header is None or not parts.content_id:
        return head + alternative
    related = _multipart(
        "related",
        [alternative, _image_part(parts.header, parts.content_id)],
        # RFC 2387 3.1: `type` names the type of the root (first) part.
        parameters='type="multipart/alternative";',
    )
    return head + related


def _to(envelope: Envelope) -> list[str]:
    if envelope.undisclosed:
        return [UNDISCLOSED]
    recipient = Address(_one_line(envelope.recipient_name or "", "recipient_name"),
                        addr_spec=ascii_address(envelope.recipient, "recipient"))  # fmt: skip
    return [str(recipient)] + [ascii_address(a, "recipient") for a in envelope.also_to]


def _headers(parts: Parts, envelope: Envelope, kind: str, template: str) -> bytes:
    sender = Address(_one_line(envelope.sender_name, "sender_name"),
                     addr_spec=ascii_address(envelope.sender, "sender"))  # fmt: skip
    to = _to(envelope)
    date = envelope.date or datetime.datetime.now(datetime.UTC)
    lines = [
        _fold("From", str(sender)),
        _fold("To", ", ".join(to)),
        _fold("Subject", parts.subject),
        # RFC 5322 3.3: numeric zone; UTC is written +0000.
        _fold("Date", format_datetime(date.astimezone(datetime.UTC))),
    ]
    if envelope.message_id:
        lines.append(_fold("Message-ID", _ascii(envelope.message_id, "message_id")))
    lines.append(_fold(KIND_HEADER, _ascii(kind, "kind")))
    if envelope.order:
        lines.append(_fold(ORDER_HEADER, _ascii(envelope.order, "order")))
    lines += [_fold(RENDERED_HEADER, _ascii(template, "template")), "MIME-Version: 1.0\r\n"]
    return "".join(lines).encode("ascii")


def _fold(name: str, value: str) -> str:
    if value.isascii() and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}\r\n"  # nothing to encode or fold (RFC 5322 2.1.1, 2.2.3)
    try:
        return _HEADERS.fold(name, value)
    except (ValueError, IndexError) as error:
        raise RenderError(f"{name}: {value!r} cannot be encoded: {error}") from None


def _text_part(subtype: str, text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    body = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: text/{subtype}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + body


def _image_part(header: HeaderImage, cid: str) -> bytes:
    name = f"header.{header.extension}"
    return (
        f"Content-Type: {header.mime_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-ID: <{cid}>\r\n"
        f'Content-Disposition: inline; filename="{name}"\r\n\r\n'
    ).encode() + base64.encodebytes(header.data).replace(b"\n", b"\r\n")


def _multipart(subtype: str, parts: list[bytes], parameters: str = "") -> bytes:
    """RFC 2046 5.1.1. The boundary starts with '=_', which quoted-printable and base64 text
    never contain ('=' is followed by hex digits or a line end), so it cannot collide."""
    boundary = f"=_{subtype}_{hashlib.sha256(b''.join(parts)).hexdigest()[:24]}".encode()
    header = f"Content-Type: multipart/{subtype};{' ' + parameters if parameters else ''}\r\n"
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        header.encode()
        + b' boundary="'
        + boundary
        + b'"\r\n\r\n'
        + body
        + b"--"
        + boundary
        + b"--\r\n"
    )


def ascii_address(address: str, field: str) -> str:
    """local@domain with an IDNA (punycode) domain; a non-ASCII local part needs SMTPUTF8,
    which a rendered message does not assume (RFC 6531)."""
    local, at, domain = _one_line(address, field).strip("<>").rpartition("@")
    if not at or not local or not domain:
        raise RenderError(f"{address!r} is not an e-mail address", variable=field)
    if not local.isascii():
        raise RenderError(f"{address!r} has a non-ASCII local part", variable=field)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise RenderError(f"{address!r} has an invalid domain", variable=field) from None
    return f"{local}@{domain}"


def _ascii(value: str, field: str) -> str:
    """Fields the pipeline reads back raw (X-Relay-*), and msg-ids: printable ASCII only."""
    if not _one_line(value, field).isascii():
        raise RenderError(f"{field} must be ASCII: {value!r}", variable=field)
    return value


def _one_line(value: str, field: str) -> str:
    if not isinstance(value, str) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RenderError(f"{field} must be one line of text", variable=field)
    if len(value) > 200:
        raise RenderError(f"{field} has more than 200 characters", variable=field)
    return value
