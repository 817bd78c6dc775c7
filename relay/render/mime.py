"""The finished message: CRLF bytes ready for the relay's normal submission path.

    multipart/related                      RFC 2387: the image belongs to the HTML
      multipart/alternative                RFC 2046 5.1.4: plain first, the preferred last
        text/plain; charset=utf-8          quoted-printable
        text/html; charset=utf-8           quoted-printable
      image/png | image/jpeg               base64, Content-ID, inline (the header image)

Built with the standard `email` package under the SMTP policy: headers RFC 2047 encoded when
not ASCII and folded at 78, CRLF line ends; bodies quoted-printable or base64, so every line is
at most 76 octets (RFC 5322 2.1.1 allows 998) and the message is 7-bit clean. Boundaries are
derived from the content, so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from relay.render.design import HeaderImage
from relay.render.errors import RenderError

# Read by the relay's pipeline and removed before sending (SPEC "Notification kinds").
KIND_HEADER = "X-Relay-Kind"
ORDER_HEADER = "X-Relay-Order"
RENDERED_HEADER = "X-Relay-Rendered"  # 'payment-reminder/de default 3f2a9c0b1d4e'


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
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(envelope.sender_name, envelope.sender, "sender")
    message["To"] = _address(envelope.recipient_name or "", envelope.recipient, "recipient")
    message["Subject"] = parts.subject
    date = envelope.date or datetime.datetime.now(datetime.UTC)
    # RFC 5322 3.3: numeric zone; UTC is written +0000.
    message["Date"] = format_datetime(date.astimezone(datetime.UTC))
    if envelope.message_id:
        message["Message-ID"] = _one_line(envelope.message_id, "message_id")
    message[KIND_HEADER] = kind
    if envelope.order:
        message[ORDER_HEADER] = _one_line(envelope.order, "order")
    message[RENDERED_HEADER] = template
    body = EmailMessage(policy=SMTP)
    body.set_content(parts.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    body.add_alternative(parts.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if parts.header is None or not parts.content_id:
        for name, value in body.items():
            message[name] = value
        message.set_payload(body.get_payload())
    else:
        message["MIME-Version"] = "1.0"
        # RFC 2387 3.1: `type` names the root part's type.
        message.add_header("Content-Type", "multipart/related", type="multipart/alternative")
        message.set_payload([body, _image_part(parts.header, parts.content_id)])
    for part in message.iter_parts():
        _drop_inner_mime_version(part)
    _set_boundaries(message)
    try:
        return message.as_bytes()
    except (ValueError, UnicodeError) as error:
        raise RenderError(f"the message cannot be encoded: {error}") from None


def _image_part(header: HeaderImage, cid: str) -> EmailMessage:
    part = EmailMessage(policy=SMTP)
    part.set_content(
        header.data,
        maintype="image",
        subtype=header.mime_type.split("/")[1],
        cid=f"<{cid}>",
        disposition="inline",
        filename=f"header.{header.extension}",
    )
    return part


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


def _address(name: str, address: str, field: str) -> Address:
    try:
        return Address(display_name=_one_line(name, field), addr_spec=ascii_address(address, field))
    except (ValueError, IndexError) as error:
        raise RenderError(
            f"{address!r} is not an e-mail address: {error}", variable=field
        ) from None


def _one_line(value: str, field: str) -> str:
    if not isinstance(value, str) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RenderError(f"{field} must be one line of text", variable=field)
    if len(value) > 200:
        raise RenderError(f"{field} has more than 200 characters", variable=field)
    return value


def _drop_inner_mime_version(part: EmailMessage) -> None:
    """RFC 2045 4: MIME-Version belongs to the top-level header only."""
    del part["MIME-Version"]
    for inner in part.iter_parts():
        _drop_inner_mime_version(inner)


def _set_boundaries(message: EmailMessage) -> None:
    """'=_' cannot occur in quoted-printable or base64 text (RFC 2045 6.7: '=' is followed by
    hex digits or a line end), so these never collide with a body."""
    for part in message.walk():
        if part.is_multipart():
            digest = hashlib.sha256(
                b"".join(p.get_payload(decode=True) or b"" for p in part.walk())
            ).hexdigest()[:24]
            part.set_boundary(f"=_{part.get_content_subtype()}_{digest}")
