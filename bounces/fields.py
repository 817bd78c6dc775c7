"""Header-style fields ("Name: value", folded lines) found in DSNs and in text."""

from __future__ import annotations

import re

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]?(.*)$")
HEADER_NAMES = (
    "return-path",
    "received",
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "sender",
    "x-mailer",
    "list-id",
    "delivered-to",
)


def parse_blocks(text: str) -> list[list[tuple[str, str]]]:
    """Split text into blank-line separated blocks of (lower-cased name, value) fields.

    RFC 3464 §2.1: a delivery-status body is one per-message block followed by one
    block per recipient, each in RFC 822 header syntax (folding allowed).
    """
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        if line[:1] in (" ", "\t") and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        match = _FIELD.match(line)
        if match:
            current.append((match.group(1).lower(), match.group(2).strip()))
        elif current:  # an unindented continuation line: tolerate it
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}".strip())
    if current:
        blocks.append(current)
    return blocks


def first(block: list[tuple[str, str]], *names: str) -> str:
    for name in names:
        for key, value in block:
            if key == name and value:
                return value
    return ""


def header_block(text: str, limit: int = 200) -> list[tuple[str, str]]:
    """Parse the leading header block of a (returned) message given as text."""
    fields: list[tuple[str, str]] = []
    for line in text.split("\n")[: limit * 4]:
        if not line.strip():
            if fields:
                break
            continue
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        match = _FIELD.match(line)
        if not match:
            if fields:
                break
            continue
        fields.append((match.group(1), match.group(2).strip()))
        if len(fields) >= limit:
            break
    return fields


_EMBEDDED_START = re.compile(
    r"^(?:Return-Path|Received|Message-I[Dd]|From|Date|Subject|To|MIME-Version|X-[A-Za-z-]+)"
    r"[ \t]*:",
    re.M | re.I,
)


def embedded_headers(text: str) -> list[tuple[str, str]]:
    """Find a quoted original header block inside a text bounce (qmail, Exim, ...)."""
    best: list[tuple[str, str]] = []
    for attempt, match in enumerate(_EMBEDDED_START.finditer(text)):
        if attempt > 40:  # bounded work on hostile input
            break
        fields = header_block(text[match.start() :])
        names = {name.lower() for name, _ in fields}
        if len(names & {"message-id", "from", "subject", "date", "to", "received"}) >= 2:
            return fields
        if not best and "message-id" in names:
            best = fields
    return best
