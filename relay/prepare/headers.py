"""A header section as raw fields, edited without re-encoding what the shop wrote.

The message is signed and sent as these exact bytes, so we never round-trip it through the
`email` package: fields we do not touch stay byte for byte as submitted. Parsing checks what
would otherwise break later (a field without a colon, a bad field name, NUL and other control
characters, bytes that are not UTF-8) and says what is wrong and on which line; the body is
never parsed and stays where it is (in memory or in the spool file) until the message is built.
"""

import functools
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from typing import Protocol

from relay.smtp.replies import quote

# Postfix refuses nothing but cuts a header at 100 KB (header_size_limit); we refuse a header
# section larger than this, so a message's headers are always small enough to parse in memory.
MAX_HEADER_SECTION = 256 * 1024
MAX_LINE = 998  # octets of a line without its CRLF (RFC 5322 2.1.1)
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")  # RFC 5322 2.2 ftext
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # RFC 5322 3.2.2: only WSP among controls


def has_long_line(data: bytes | bytearray) -> bool:
    """Any line over 998 octets without its CRLF (one split, in C)."""
    return len(data) > MAX_LINE and max(map(len, data.split(b"\r\n"))) > MAX_LINE


class MalformedMessage(ValueError):
    """The message cannot be relayed as it is; the text says what is wrong and where."""


class Source(Protocol):
    """Where a message's bytes are: in memory, or in the spool file of relay.smtp.data.

    `eight_bit` and `long_lines` say whether the message as submitted has a byte over 127 or a
    line over 998 octets (relay.prepare.wire re-encodes only then): the DATA reader finds them
    as the data arrives, InMemory looks when asked."""

    size: int

    @property
    def eight_bit(self) -> bool: ...

    @property
    def long_lines(self) -> bool: ...

    def head(self, limit: int) -> bytes: ...

    def read_into(self, offset: int, target: memoryview) -> None: ...


class InMemory:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def head(self, limit: int) -> bytes:
        return self.data[:limit]

    @functools.cached_property
    def eight_bit(self) -> bool:
        return not self.data.isascii()

    @functools.cached_property
    def long_lines(self) -> bool:
        return has_long_line(self.data)

    def read_into(self, offset: int, target: memoryview) -> None:
        target[:] = memoryview(self.data)[offset : offset + len(target)]


@dataclass
class RawMessage:
    fields: list[tuple[str, bytes]] = field(default_factory=list)  # (lower name, raw field+CRLF)
    source: Source = field(default_factory=lambda: InMemory(b""))
    body_offset: int = 0  # where the body starts in `source`

    @classmethod
    def parse(cls, data: "bytes | Source") -> "RawMessage":
        """Split CRLF data into header fields and body (RFC 5322 2.1: the first empty line)."""
        source = InMemory(data) if isinstance(data, bytes | bytearray) else data
        head = source.head(MAX_HEADER_SECTION + 4)
        if head.startswith(b"\r\n"):
            return cls([], source, 2)
        end = head.find(b"\r\n\r\n")
        if (end < 0 and source.size > len(head)) or end > MAX_HEADER_SECTION:
            raise MalformedMessage(
                f"the header section is larger than {MAX_HEADER_SECTION // 1024} KB; an empty"
                " line must end it (RFC 5322 2.1)"
            )
        if end < 0:  # headers only, no body (RFC 5322 3.5): the last CRLF ends the last field
            block, offset = head[:-2] if head.endswith(b"\r\n") else head, source.size
        else:
            block, offset = head[:end], end + 4
        return cls(_parse_fields(block), source, offset)

    @property
    def body_size(self) -> int:
        return self.source.size - self.body_offset

    def get(self, name: str) -> str | None:
        """The first field's unfolded value as text, or None."""
        for field_name, raw in self.fields:
            if field_name == name:
                return unfold(raw)
        return None

    def count(self, name: str) -> int:
        return sum(1 for field_name, _ in self.fields if field_name == name)

    def remove(self, name: str) -> None:
        self.fields = [(n, raw) for n, raw in self.fields if n != name]

    def pop_prefixed(self, prefix: str) -> dict[str, str]:
        """Remove every field whose name starts with `prefix`; return them (first wins)."""
        taken: dict[str, str] = {}
        kept = []
        for name, raw in self.fields:
            if name.startswith(prefix):
                taken.setdefault(name, unfold(raw))
            else:
                kept.append((name, raw))
        self.fields = kept
        return taken

    def add(self, name: str, value: str) -> None:
        self.fields.append((name.lower(), f"{name}: {value}\r\n".encode()))

    def replace(self, name: str, value: str) -> None:
        self.remove(name.lower())
        self.add(name, value)

    def header_block(self) -> bytes:
        """The header fields, each ending in CRLF, without the empty line after them."""
        return b"".join(raw for _, raw in self.fields)

    def body(self) -> bytes:
        """The body as one bytes object (read from the spool file when it is there)."""
        source = self.source
        if isinstance(source, InMemory):
            return bytes(memoryview(source.data)[self.body_offset :])
        body = bytearray(self.body_size)
        source.read_into(self.body_offset, memoryview(body))
        return bytes(body)

    def set_body(self, body: bytes) -> None:
        """Replace the body (the header fields stay as they are)."""
        self.source, self.body_offset = InMemory(body), 0

    def to_bytes(self) -> bytes | bytearray:
        """The whole message: one allocation of its final size, the body copied in once."""
        head = self.header_block() + b"\r\n"
        source = self.source
        if isinstance(source, InMemory):
            return b"".join([head, memoryview(source.data)[self.body_offset :]])
        message = bytearray(len(head) + self.body_size)
        message[: len(head)] = head
        source.read_into(self.body_offset, memoryview(message)[len(head) :])
        return message


def _parse_fields(block: bytes) -> list[tuple[str, bytes]]:
    names: list[str] = []
    lines: list[list[bytes]] = []  # each field's lines, joined once at the end
    for number, line in enumerate(block.split(b"\r\n"), start=1):
        if len(line) > MAX_LINE:
            raise MalformedMessage(
                f"header line {number} has {len(line)} octets, over the {MAX_LINE} that RFC 5322"
                " 2.1.1 allows; fold it (RFC 5322 2.2.3)"
            )
        if line[:1] in (b" ", b"\t"):
            if not names:
                raise MalformedMessage(
                    "line 1 starts with white space, but no header field is above it to"
                    " continue (RFC 5322 2.2.3)"
                )
            _check_value(line, names[-1], number, 0)
            lines[-1].append(line)
            continue
        raw_name, colon, value = line.partition(b":")
        if not colon:
            raise MalformedMessage(
                f"header line {number} has no colon: {quote(line, 40)}; a field is 'Name: value',"
                " and an empty line must separate the header section from the body (RFC 5322 2.2)"
            )
        if not raw_name:
            raise MalformedMessage(f"header line {number} has an empty field name (RFC 5322 2.2)")
        if not _FIELD_NAME.fullmatch(raw_name):
            raise MalformedMessage(
                f"header line {number}: the field name {quote(raw_name, 40)} may only hold"
                " printable ASCII characters without spaces (RFC 5322 2.2)"
            )
        name = raw_name.decode("ascii").lower()
        _check_value(value, name, number, len(raw_name) + 1)
        names.append(name)
        lines.append([line])
    # Joined once: adding each continuation line to the field's bytes copied them all again
    # (a field folded into 64,000 lines took 0.8 s; quadratic).
    return [(name, b"\r\n".join(parts) + b"\r\n") for name, parts in zip(names, lines, strict=True)]


def _check_value(value: bytes, name: str, number: int, column: int) -> None:
    where = f"header {name} (line {number})"
    control = _CONTROL.search(value)
    if control is not None:
        byte = value[control.start()]
        raise MalformedMessage(
            f"{where} holds the control character 0x{byte:02X} at column"
            f" {column + control.start() + 1} (RFC 5322 3.2.2)"
        )
    if value.isascii():
        return
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedMessage(
            f"{where} is not UTF-8: byte 0x{value[error.start]:02X} at column"
            f" {column + error.start + 1}; write non-ASCII text as RFC 2047 encoded-words"
            " (=?utf-8?q?...?=) or in UTF-8 (RFC 6532)"
        ) from None


def unfold(raw: bytes) -> str:
    """RFC 5322 2.2.3: remove CRLF before folding whitespace; value after the colon."""
    value = raw.split(b":", 1)[1] if b":" in raw else b""
    text = value.decode("utf-8", "surrogateescape")
    return text.replace("\r\n", "").strip()


def decoded(value: str | None) -> str:
    """RFC 2047 encoded-words to text, for display (subjects in the history)."""
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value
