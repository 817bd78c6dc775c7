"""A header block as raw fields, edited without re-encoding what the shop wrote.

The message is signed and sent as these exact bytes, so we never round-trip it through the
`email` package: fields we do not touch stay byte for byte as submitted.
"""

from dataclasses import dataclass, field
from email.header import decode_header, make_header


@dataclass
class RawMessage:
    fields: list[tuple[str, bytes]] = field(default_factory=list)  # (lower name, raw field+CRLF)
    body: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> "RawMessage":
        """Split CRLF data into header fields and body (RFC 5322 2.1: the first empty line)."""
        if data.startswith(b"\r\n"):
            return cls([], data[2:])
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep and head.endswith(b"\r\n"):
            head = head[:-2]  # headers only, no body: the last CRLF ends the last field
        message = cls([], body if sep else b"")
        for line in (head + b"\r\n").split(b"\r\n")[:-1]:
            if line[:1] in (b" ", b"\t") and message.fields:
                name, raw = message.fields[-1]
                message.fields[-1] = (name, raw + line + b"\r\n")
            else:
                name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
                message.fields.append((name, line + b"\r\n"))
        return message

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

    def to_bytes(self) -> bytes:
        return b"".join(raw for _, raw in self.fields) + b"\r\n" + self.body


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
