"""A bounce wrapped in another message: a gateway or a person forwarded the DSN as a
message/rfc822 attachment, and the outer notice says nothing of its own."""

from __future__ import annotations

from email.message import Message

from bounces import dsn
from bounces.context import Detection, Mail


def detect(mail: Mail) -> Detection | None:
    for part in mail.parts_of(("message/rfc822",)):
        inner = _inner(part)
        if inner is None:
            continue
        inner_mail = Mail(inner)
        if inner_mail.dsn_parts:
            found = dsn.detect(inner_mail)
            if found and found.findings:
                found.format = "nested-rfc3464"
                return found
    return None


def _inner(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None
