"""Body parts on the wire: 7-bit and no line over 998 octets, re-encoded before signing.

RFC 5322 2.1.1 allows 998 octets a line; RFC 6152 lets 8-bit content travel only to servers
that announce 8BITMIME. A part that breaks either is re-encoded (RFC 2045 6): text as
quoted-printable (it decodes to the exact bytes the shop wrote, so its HTML works as before),
anything else as base64; a part already in base64 or quoted-printable with long lines is
decoded and encoded again. Parts that need nothing keep their bytes. Which part needs it is
found by walking the MIME tree (RFC 2046 5.1.1 boundaries, message/rfc822 inside).

What may not be changed stays as it is: the content of multipart/signed and /encrypted (RFC
1847 2.1) and parts in a transfer encoding the relay does not know. Such a part with 8-bit
content leaves the message 8-bit (relay.delivery.client then needs 8BITMIME at the receiving
server); with a line over 998 octets it can be sent nowhere: `CannotSend`, a refusal at DATA.
"""

import base64
import binascii
from dataclasses import dataclass
from email.message import Message

from relay.prepare.header_encoding import Unencodable, encode_field
from relay.prepare.headers import MAX_LINE, MalformedMessage, RawMessage, has_long_line, unfold

Field = tuple[str, bytes]  # (lower-case name, the raw field with its CRLF), as RawMessage
MAX_DEPTH = 20  # nesting of multiparts and attached messages; deeper parts are left alone
_IDENTITY = ("7bit", "8bit", "binary")  # RFC 2045 6.2: no encoding at all
_OPAQUE = ("signed", "encrypted")  # RFC 1847 2.1: the content must arrive unchanged


class CannotSend(ValueError):
    """Lines over 998 octets in a part the relay must not (or cannot) re-encode."""


@dataclass(frozen=True)
class Entity:
    """A MIME entity (RFC 2045 2.4): its header fields and its body, transfer-encoded."""

    fields: list[Field]
    body: bytes

    def to_bytes(self) -> bytes:
        return b"".join(raw for _, raw in self.fields) + b"\r\n" + self.body


def clean(data: bytes) -> bool:
    return data.isascii() and not has_long_line(data)


def convert(entity: Entity, depth: int = 0) -> Entity | None:
    """The entity with every part that needs it re-encoded; None when none did."""
    headers = _mime_headers(entity.fields)
    if headers.get_content_maintype() == "multipart":
        return _multipart(entity, headers, depth)
    if headers.get_content_type() in ("message/rfc822", "message/global"):
        return _message(entity, depth)
    return _leaf(entity, headers)


def _mime_headers(fields: list[Field]) -> Message:
    """Content-Type and Content-Transfer-Encoding as an `email` Message, for its parameter
    parsing (RFC 2045 5.1, RFC 2231); the default is text/plain (RFC 2045 5.2)."""
    headers = Message()
    for name, raw in fields:
        if name in ("content-type", "content-transfer-encoding") and name not in headers:
            headers[name] = unfold(raw)
    return headers


def _encoding(headers: Message) -> str:
    return str(headers.get("content-transfer-encoding") or "7bit").strip().lower()


def _leaf(entity: Entity, headers: Message) -> Entity | None:
    if clean(entity.body):
        return None
    encoding = _encoding(headers)
    if encoding not in (*_IDENTITY, "quoted-printable", "base64"):
        return _opaque(entity, f"a part in the transfer encoding {encoding!r}")
    data = _decoded(entity.body, encoding)
    text = headers.get_content_maintype() == "text"
    if text and encoding != "base64":
        body, encoding = quoted_printable(data), "quoted-printable"
    else:
        body, encoding = _base64(data), "base64"
    fields = _with_encoding(entity.fields, encoding)
    if text and headers.get_param("charset") is None and not data.isascii():
        # RFC 2045 5.2: no charset means US-ASCII, which 8-bit text never was.
        fields = _with_charset(fields, headers, "utf-8" if _is_utf8(data) else "unknown-8bit")
    return Entity(fields, body)


def _opaque(entity: Entity, what: str) -> None:
    """A part the relay leaves as it is: fine when only 8-bit (8BITMIME carries it)."""
    if has_long_line(entity.body):
        raise CannotSend(
            f"{what} has a line over {MAX_LINE} octets (RFC 5322 2.1.1), and the relay cannot"
            " re-encode it; use quoted-printable or base64 there"
        )
    return None


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    if encoding == "base64":
        return binascii.a2b_base64(body)  # lenient: stray characters are skipped (RFC 2045 6.8)
    return body


def quoted_printable(data: bytes) -> bytes:
    """RFC 2045 6.7 with CRLF line ends and lines of at most 76 octets. Text whose line ends
    are all CRLF keeps them as line ends; anything else (a bare CR or LF) is encoded too, so
    that it decodes to the same bytes."""
    rest = data.replace(b"\r\n", b"")
    as_text = b"\r" not in rest and b"\n" not in rest
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=as_text, header=False)
    # b2a_qp ends soft line breaks as the data's first line end, or LF when it has none.
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")  # 76 characters a line


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _with_encoding(fields: list[Field], encoding: str) -> list[Field]:
    kept = [f for f in fields if f[0] != "content-transfer-encoding"]
    field = f"Content-Transfer-Encoding: {encoding}\r\n".encode()
    return [*kept, ("content-transfer-encoding", field)]


def _with_charset(fields: list[Field], headers: Message, charset: str) -> list[Field]:
    headers.set_param("charset", charset)
    value = " ".join(str(headers["content-type"]).split())
    kept = [f for f in fields if f[0] != "content-type"]
    return [*kept, ("content-type", f"Content-Type: {value}\r\n".encode())]


# --- message/rfc822 (RFC 2046 5.2.1: 7bit, 8bit or binary only) ---------------------------------


def _message(entity: Entity, depth: int) -> Entity | None:
    if clean(entity.body):
        return None
    if depth >= MAX_DEPTH:
        return _opaque(entity, "a message nested too deeply")
    inner = _entity(entity.body, "an attached message")
    if inner is None:
        return _opaque(entity, "an attached message with a broken header")
    body = _converted_bytes(inner, depth + 1)
    if body is None:
        return None
    encoding = "7bit" if clean(body) else _encoding(_mime_headers(entity.fields))
    return Entity(_with_encoding(entity.fields, encoding), body)


def _entity(raw: bytes, what: str) -> Entity | None:
    """A part's header fields and body; None when the header is unreadable (a header line over
    998 octets is refused: no re-encoding can shorten it)."""
    try:
        parsed = RawMessage.parse(raw)
    except MalformedMessage as problem:
        if has_long_line(raw.split(b"\r\n\r\n", 1)[0]):
            raise CannotSend(f"{what}: {problem}") from None
        return None
    return Entity(parsed.fields, parsed.body())


def _converted_bytes(entity: Entity, depth: int) -> bytes | None:
    """The entity as bytes with its fields encoded where they can be (UTF-8 that cannot be
    stays: 8BITMIME carries it) and its body converted; None when nothing changed."""
    fields = [(name, _encoded_or_kept(name, raw)) for name, raw in entity.fields]
    converted = convert(Entity(fields, entity.body), depth)
    if converted is None and fields == entity.fields:
        return None
    return (converted or Entity(fields, entity.body)).to_bytes()


def _encoded_or_kept(name: str, raw: bytes) -> bytes:
    try:
        return encode_field(name, raw)[0]
    except Unencodable:
        return raw


# --- multipart (RFC 2046 5.1.1) -------------------------------------------------------------------


@dataclass
class Multipart:
    """A multipart body split at its delimiters; `to_bytes()` gives the same bytes back."""

    dash: bytes  # CRLF "--" boundary: a delimiter with the CRLF before it (part of it)
    preamble: bytes  # starts with the CRLF the split put before the body, or empty
    parts: list[tuple[bytes, bytes]]  # (rest of the delimiter line with its CRLF, the part)
    close: bytes | None  # rest of the close-delimiter line with its CRLF; None: none
    epilogue: bytes

    def to_bytes(self) -> bytes:
        out = self.preamble + b"".join(self.dash + line + part for line, part in self.parts)
        if self.close is not None:
            out += self.dash + self.close + self.epilogue
        return out[2:]  # the CRLF the split added


def split_multipart(body: bytes, boundary: bytes) -> Multipart | None:
    """None when no delimiter line is found. A line that starts with the boundary but goes on
    with more than white space is content (RFC 2046 5.1.1)."""
    dash = b"\r\n--" + boundary
    pieces = (b"\r\n" + body).split(dash)
    if len(pieces) == 1:
        return None
    split = Multipart(dash, pieces[0], [], None, b"")
    for piece in pieces[1:]:
        line, crlf, rest = piece.partition(b"\r\n")
        if split.close is not None:
            split.epilogue += dash + piece
        elif line.startswith(b"--") and not line[2:].strip(b" \t"):
            split.close, split.epilogue = line + crlf, rest
        elif not line.strip(b" \t"):
            split.parts.append((line + crlf, rest))
        elif split.parts:
            last_line, last = split.parts[-1]
            split.parts[-1] = (last_line, last + dash + piece)
        else:
            split.preamble += dash + piece
    return split if split.parts else None


def _multipart(entity: Entity, headers: Message, depth: int) -> Entity | None:
    if clean(entity.body):
        return None
    subtype = headers.get_content_subtype()
    if subtype in _OPAQUE:
        return _opaque(entity, f"a multipart/{subtype} part (RFC 1847 2.1: sent unchanged)")
    boundary = headers.get_param("boundary")
    if not isinstance(boundary, str) or not boundary.isascii() or depth >= MAX_DEPTH:
        return _opaque(entity, "a multipart part without a usable boundary")
    split = split_multipart(entity.body, boundary.encode("ascii"))
    if split is None:
        return _opaque(entity, f"a multipart part whose boundary {boundary!r} never appears")
    changed = False
    for index, (line, raw) in enumerate(split.parts):
        new = _part(raw, depth + 1)
        if new is not None:
            split.parts[index], changed = (line, new), True
    if not clean(split.preamble):
        split.preamble, changed = b"", True  # RFC 2046 5.1.1: ignored by every reader
    if not clean(split.epilogue):
        split.epilogue, changed = b"", True
    if not changed:
        return None
    body = split.to_bytes()
    fields = entity.fields
    if clean(body) and _encoding(headers) != "7bit" and headers.get("content-transfer-encoding"):
        fields = _with_encoding(fields, "7bit")  # RFC 2045 6.4: 7bit, 8bit or binary
    return Entity(fields, body)


def _part(raw: bytes, depth: int) -> bytes | None:
    if clean(raw):
        return None
    part = _entity(raw, "a MIME part")
    if part is None:
        return _opaque(Entity([], raw), "a MIME part with a broken header")
    return _converted_bytes(part, depth)
