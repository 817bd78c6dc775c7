"""The parsed report as detectors see it, and what a detector finds per recipient."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from functools import cached_property

from bounces import fields, mime


@dataclass
class Finding:
    """One recipient as a detector read it, before classification."""

    address: str
    diagnostic: str = ""
    status: str = ""  # RFC 3464 Status: field or the detector's own reading
    reply: str = ""  # SMTP reply code
    action: str = ""  # RFC 3464 §2.3.3 action-value
    remote_mta: str = ""
    command: str = ""  # SMTP command that was refused (RCPT, DATA, ...)
    hint: str = ""  # reason the detector can tell from the report's wording
    spec: str = ""  # diagnostic type (RFC 3464 §2.3.6): SMTP, X-UNIX, ...
    category: str = ""  # the reporting MTA's own class of the failure (X-PowerMTA-BounceCategory)


@dataclass
class Detection:
    format: str
    findings: list[Finding]
    kind: str = ""  # "" lets parse.py derive it from the actions
    feedback_type: str | None = None
    auth_results: list[dict] = field(default_factory=list)
    returned_headers: list[tuple[str, str]] | None = None
    reporter: str = ""  # host name of the MTA that wrote the report (RFC 3464 §2.2.2)


class Mail:
    """Lazy views of one report: headers, text, DSN parts, the returned message."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg
        self._decoded: dict[str, list[str]] = {}
        self._first: dict[str, str] = {}

    @cached_property
    def _raw_headers(self) -> dict[str, list[str]]:
        """All headers by lower-cased name, read once (email.Message.get is linear)."""
        table: dict[str, list[str]] = {}
        for name, value in self.msg.raw_items():
            table.setdefault(name.lower(), []).append(value)
        return table

    def headers_all(self, name: str) -> list[str]:
        """Every occurrence of a header, decoded (RFC 2047), in order."""
        if name not in self._decoded:
            values = self._raw_headers.get(name.lower(), [])
            self._decoded[name] = [mime.decode_header(v) for v in values]
        return self._decoded[name]

    def has_header(self, name: str) -> bool:
        """Whether the header occurs at all, even with an empty value."""
        return name.lower() in self._raw_headers

    def header(self, name: str) -> str:
        """The first occurrence of a header, decoded; '' if absent."""
        first = self._first.get(name)
        if first is None:
            values = self._raw_headers.get(name.lower())
            first = self._first[name] = mime.decode_header(values[0]) if values else ""
        return first

    @cached_property
    def subject(self) -> str:
        return self.header("subject")

    @cached_property
    def sender(self) -> str:
        return self.header("from")

    @cached_property
    def content_type(self) -> str:
        return self.msg.get_content_type()

    @cached_property
    def report_type(self) -> str:
        try:
            value = self.msg.get_param("report-type") or ""
        except Exception:
            return ""
        return str(value).lower() if isinstance(value, str) else ""

    @cached_property
    def text(self) -> str:
        """The human-readable text of the report, lines joined with \\n."""
        return mime.body_text(self.parts)

    @cached_property
    def parts(self) -> list[tuple[str, Message]]:
        """(content type, part) of every part of the report, outside returned messages."""
        return mime.typed_parts(self.msg)

    def parts_of(self, types: tuple[str, ...]) -> list[Message]:
        return [part for ctype, part in self.parts if ctype in types]

    @cached_property
    def dsn_parts(self) -> list[Message]:
        return self.parts_of(mime.DSN_TYPES)

    @cached_property
    def dsn_blocks(self) -> list[list[tuple[str, str]]]:
        blocks: list[list[tuple[str, str]]] = []
        for part in self.dsn_parts:
            blocks.extend(fields.parse_blocks(mime.raw_part_text(part)))
        return blocks

    @cached_property
    def returned_headers(self) -> list[tuple[str, str]]:
        """Headers of the original message: attached, or quoted in the text."""
        for part in self.parts_of(mime.RETURNED_TYPES):
            found = _headers_of_returned(part)
            if found:
                return found
        return fields.embedded_headers(self.text)

    def returned(self, name: str) -> str:
        name = name.lower()
        for key, value in self.returned_headers:
            if key.lower() == name:
                return mime.decode_header(value)
        return ""


def _headers_of_returned(part: Message) -> list[tuple[str, str]]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        items = [(k, str(v)) for k, v in inner.items()]
        if items:
            return items
        body = inner.get_payload()
        return fields.header_block(body) if isinstance(body, str) else []
    return fields.header_block(mime.part_text(part))
