"""Reading a report's MIME structure robustly: any line ending, charset or damage.

Everything here tolerates broken input: a bounce is written by a mail system
that is failing, so malformed MIME, wrong charsets and truncation are normal.
"""

from __future__ import annotations

import email
import email.header
import quopri
import re
from email.message import Message
from email.policy import compat32

# Larger reports are cut: the part that explains the failure is at the top, and the
# stdlib parser plus our regexes must stay linear and fast on hostile input.
MAX_REPORT_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 256 * 1024
MAX_PARTS = 64
# Lines are cut at this length before any detector reads them: RFC 5322 §2.1.1 allows 998
# characters, a decoded part may be longer, and the words that explain a failure fit.
MAX_LINE_CHARS = 2000

DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
RETURNED_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "text/rfc822-header",
    "message/global-headers",
    "message/partial",
)
_QP_ESCAPE = re.compile(rb"=[0-9A-F]{2}")
_TAGS = re.compile(r"<[^>]{0,2000}>")
_ENTITIES = {"&nbsp;": " ", "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'"}


_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")


def undo_8bit(text: str) -> str:
    """The stdlib parser keeps 8-bit bytes of headers and of parsed sub-parts as surrogate
    escapes; RFC 6532 makes them UTF-8 (message/global-delivery-status, RFC 6533 §6), so
    read them as UTF-8 (Latin-1 if they are not), never as mojibake."""
    if not _ESCAPED_BYTES.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def normalise_line_endings(raw: bytes) -> bytes:
    """CRLF and bare CR become LF, so one parser reads all three conventions."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


class _IndexedMessage(Message):
    """email.message.Message whose get() is a dict look-up, not a scan of every header.

    The stdlib scans the header list on each get(); the parser and our detectors ask
    for Content-Type and friends dozens of times per part, and returned messages
    carry long Received: chains. The index is rebuilt whenever the list changes size.
    """

    _index: dict[str, object] | None = None
    _indexed_size = -1

    def get(self, name, failobj=None):  # type: ignore[override]
        if self._indexed_size != len(self._headers) or self._index is None:
            self._index, self._indexed_size = {}, len(self._headers)
        key = name.lower()
        if key not in self._index:
            first = next((v for k, v in self._headers if k.lower() == key), None)
            self._index[key] = (
                None if first is None else self.policy.header_fetch_parse(name, first)
            )
        value = self._index[key]
        return failobj if value is None else value

    def replace_header(self, _name, _value):  # type: ignore[override]
        self._indexed_size = -1
        super().replace_header(_name, _value)

    def get_payload(self, i=None, decode=False):  # type: ignore[override]
        try:
            return super().get_payload(i, decode)
        except (LookupError, ValueError):
            # 8-bit text under a charset whose codec has no 'replace' mode (punycode,
            # idna raise UnicodeError): degrade as the stdlib does for unknown charsets.
            if decode or i is not None or not isinstance(self._payload, str):
                raise
            return self._payload.encode("ascii", "surrogateescape").decode("ascii", "replace")


_MULTIPART = re.compile(rb"^content-type:[ \t]*multipart/", re.I | re.M)


def parse_bytes(raw: bytes) -> Message:
    raw = _bounded_nesting(normalise_line_endings(raw[:MAX_REPORT_BYTES]))
    return email.message_from_bytes(raw, _class=_IndexedMessage, policy=compat32)


def _bounded_nesting(raw: bytes) -> bytes:
    """The stdlib parser recurses once per nested multipart and fails past Python's
    recursion limit; a report needs a few levels. Cut before the MAX_PARTS-th multipart."""
    if raw.count(b"ultipart/") <= MAX_PARTS:
        return raw
    for number, match in enumerate(_MULTIPART.finditer(raw)):
        if number == MAX_PARTS:
            return raw[: match.start()]
    return raw


def decode_header(value: object) -> str:
    """Decode RFC 2047 encoded words; never fails, unknown charsets degrade gracefully."""
    if value is None:
        return ""
    text = undo_8bit(str(value))
    if "=?" not in text:
        return " ".join(text.split())
    try:
        pieces = email.header.decode_header(text)
    except Exception:  # malformed encoded words: keep the raw text
        return " ".join(text.split())
    out = []
    for chunk, charset in pieces:
        out.append(_bytes_to_text(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return " ".join("".join(out).split())


def _bytes_to_text(data: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, ValueError):  # punycode/idna raise plain UnicodeError
            continue
    return data.decode("latin-1")


def part_text(part: Message) -> str:
    """The decoded text of a leaf part (transfer encoding and charset undone)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # broken base64 or quoted-printable
        payload = None
    if payload is None:
        raw = part.get_payload()
        return short_lines(undo_8bit(raw[:MAX_TEXT_CHARS])) if isinstance(raw, str) else ""
    charset = _charset_of(part)
    payload = payload[: MAX_TEXT_CHARS * 2]
    if _undeclared_quoted_printable(part, payload):
        payload = quopri.decodestring(payload)
    text = _bytes_to_text(payload, charset)
    return short_lines(text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS])


def short_lines(text: str) -> str:
    """`text` with every line cut at MAX_LINE_CHARS."""
    lines = text.split("\n")
    if max(map(len, lines)) <= MAX_LINE_CHARS:
        return text
    return "\n".join(line[:MAX_LINE_CHARS] for line in lines)


def _undeclared_quoted_printable(part: Message, payload: bytes) -> bool:
    """Quoted-printable sent without saying so (soft breaks "=\n" all over, RFC 2045 §6.7)."""
    declared = str(part.get("content-transfer-encoding", "")).strip().lower()
    if declared not in ("", "7bit", "8bit"):
        return False
    return payload.count(b"=\n") >= 3 and _QP_ESCAPE.search(payload) is not None


def _charset_of(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        return None
    return charset if charset and charset != "unknown-8bit" else None


def html_to_text(html: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</li>", "\n", html)
    text = _TAGS.sub(" ", text)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return text


def body_text(parts: list[tuple[str, Message]]) -> str:
    """All human-readable text of the report (plain parts; HTML only when no plain).

    `parts` are (content type, part) pairs from typed_parts(): the report itself,
    never the parts of a returned message.
    """
    plain = [part_text(p) for ctype, p in parts if _is_plain(ctype) or _broken_multipart(ctype, p)]
    plain = [text for text in plain if text.strip()]
    if not plain:
        # Courier writes its notice in the MIME preamble (RFC 2046 §5.1.1 says
        # to ignore it, but it is the only human-readable text there is).
        plain = [html_to_text(part_text(p)) for ctype, p in parts if ctype == "text/html"]
        preambles = [_preamble(p) for ctype, p in parts if ctype.startswith("multipart/")]
        plain = [text for text in preambles if text] + plain
    return "\n".join(plain)[:MAX_TEXT_CHARS]


def _preamble(part: Message) -> str:
    preamble = part.preamble or ""
    return preamble if len(preamble.strip()) > 80 else ""  # not just "This is MIME"


def _broken_multipart(ctype: str, part: Message) -> bool:
    """A multipart whose boundary never occurs: the parser left its body as one string."""
    return ctype.startswith("multipart/") and isinstance(part.get_payload(), str)


def _is_plain(ctype: str) -> bool:
    return ctype.startswith("text/") and ctype != "text/html" and ctype not in RETURNED_TYPES


def typed_parts(msg: Message) -> list[tuple[str, Message]]:
    return list(_walk(msg, depth=0))


def _walk(part: Message, depth: int):
    """(content type, part) of a part and its children, not entering returned messages."""
    ctype = part.get_content_type()
    yield ctype, part
    payload = part.get_payload()
    if depth > 8 or not isinstance(payload, list) or ctype in RETURNED_TYPES:
        return
    if ctype in DSN_TYPES:
        return  # compat32 splits its field blocks into pseudo text/plain parts
    for child in payload[:MAX_PARTS]:
        if isinstance(child, Message):
            yield from _walk(child, depth + 1)


def raw_part_text(part: Message) -> str:
    """Text of a part that the parser may have split into sub-messages (DSN, rfc822)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n\n".join(_message_to_text(p) for p in payload if isinstance(p, Message))
    return part_text(part)


def _message_to_text(msg: Message) -> str:
    lines = [f"{name}: {value}" for name, value in msg.raw_items()]
    payload = msg.get_payload()
    if isinstance(payload, str) and not payload.isascii():
        # get_payload() would decode 8-bit text as ASCII with U+FFFD: take the bytes.
        raw = msg.get_payload(decode=True)
        payload = _bytes_to_text(raw, "utf-8") if isinstance(raw, bytes) else payload
    if isinstance(payload, str) and payload.strip():
        # The parser took an unindented continuation line for the start of a body:
        # keep it in the same block so that it continues the previous field.
        lines.append(payload.strip("\n"))
    return undo_8bit("\n".join(lines))
