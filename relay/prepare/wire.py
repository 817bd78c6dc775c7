"""What leaves the relay is valid on the wire (SPEC "What it promises", issue 13 items 1-4).

The choice: **make every message 7-bit clean before signing**, once, at submission. The
receiving server is not known when the message is signed (one signature per recipient copy,
made before the message is stored), and a DKIM signature breaks when a later hop converts an
8-bit body to 7 bits for a server without 8BITMIME; RFC 6376 5.3 therefore asks signers to
convert to a 7-bit transfer encoding before signing. So the stored message is the message every
server gets, valid with or without 8BITMIME, and no key is needed at delivery.

- Header fields with raw UTF-8 are encoded (relay.prepare.header_encoding: RFC 2047 words,
  RFC 2231 parameters, A-labels); a field that cannot be is refused (`550 5.6.3`). An address
  with a UTF-8 local part stays as it is (RFC 6532): the message then needs SMTPUTF8.
- Body parts with 8-bit content or lines over 998 octets are re-encoded (relay.prepare.
  transfer: quoted-printable for text, base64 otherwise); lines over 998 octets where that is
  impossible (a header, a signed part) are refused (`550 5.6.0` / `550 5.6.3`).

The common message costs two flags (checked by the DATA reader as the data arrived, or one
`isascii()` and one split for other ways in) and one `isascii()` of the header block; only a
message that needs it is parsed as MIME. What remains 8-bit (UTF-8 addresses, parts that must
not change) is sent with `BODY=8BITMIME` / `SMTPUTF8` where the server announces them, and
fails with a permanent reason where it does not (relay.delivery.client).
"""

from relay.prepare.header_encoding import Unencodable, encode_field
from relay.prepare.headers import RawMessage
from relay.prepare.transfer import CannotSend, Entity, clean, convert

HEADER_REFUSED = "550 5.6.3 Message refused: {detail}"  # RFC 3463 X.6.3: conversion needed
PART_REFUSED = "550 5.6.3 Message refused: {detail}"


class WireRefusal(Exception):
    """The message cannot be made valid on the wire; `reply` says why (a 5xx)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def make_wire_safe(message: RawMessage) -> None:
    """Encode the header fields and re-encode the body parts that need it, in place."""
    _encode_header_fields(message)
    body = _body_if_it_needs_work(message)
    if body is None:
        return
    top = Entity(message.fields, body)
    try:
        converted = convert(top)
    except CannotSend as problem:
        raise WireRefusal(PART_REFUSED.format(detail=problem)) from None
    if converted is None:
        return
    fields = converted.fields
    if not any(name == "mime-version" for name, _ in fields):
        fields = [*fields, ("mime-version", b"MIME-Version: 1.0\r\n")]  # RFC 2045 4
    message.fields = fields
    message.set_body(converted.body)


def _encode_header_fields(message: RawMessage) -> None:
    if all(raw.isascii() for _, raw in message.fields):
        return
    fields = []
    for name, raw in message.fields:
        try:
            fields.append((name, encode_field(name, raw)[0]))
        except Unencodable as problem:
            raise WireRefusal(HEADER_REFUSED.format(detail=problem)) from None
    message.fields = fields


def _body_if_it_needs_work(message: RawMessage) -> bytes | None:
    """The body when it must be re-encoded (read once), else None. The source's flags cover
    the whole message as submitted; only when they show something is the body itself looked
    at (the 8-bit part may have been a header)."""
    source = message.source
    if not source.eight_bit and not source.long_lines:
        return None
    body = message.body()
    return None if clean(body) else body
