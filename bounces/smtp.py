"""Reading SMTP dialogue fragments quoted in reports (RFC 5321 §4.1 commands)."""

from __future__ import annotations

import re

# Latest stage wins: a text mentioning RCPT and DATA failed at DATA.
_STAGE_ORDER = ("HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "QUIT")
# A command word standing alone, not part of an address or a host name.
_STAGES = re.compile(
    r"(?<![0-9A-Za-z@`_.\-])(HELO|EHLO|STARTTLS|AUTH (?:PLAIN|LOGIN|CRAM-|DIGEST-)|MAIL F|RCPT|DATA"
    r"|QUIT)(?![0-9A-Za-z@`_\-])"
)
# Phrases that say which command a reply answered (Postfix, Exim, qmail wording).
_PHRASES = re.compile(
    r"(?P<data>in reply to (?:the )?end of data|after end of data|after data\b|end of data)"
    r"|in reply to (?P<reply>rcpt to|mail from|data|helo|ehlo)\b"
    r"|after (?P<after>rcpt to|mail from|helo|ehlo)\b"
    r"|(?P<conn>after initial connection|but greeting failed)"
    r"|(?P<mail>but sender was rejected)"
    r"|(?P<helo>but my name was rejected)",
    re.I,
)
_ANY_STAGE = re.compile(r"HELO|EHLO|STARTTLS|AUTH|MAIL F|RCPT|DATA|QUIT")
_WORD_TO_COMMAND = {
    "rcpt to": "RCPT",
    "mail from": "MAIL",
    "data": "DATA",
    "helo": "HELO",
    "ehlo": "EHLO",
}
_GROUP_TO_COMMAND = {"data": "DATA", "conn": "CONN", "mail": "MAIL", "helo": "HELO"}


def find_command(text: str) -> str:
    """The SMTP command a reply answered, read from the report's words ('' if unknown)."""
    if not text:
        return ""
    lowered = text.lower()
    phrase = (
        _PHRASES.search(text)
        if (
            "after " in lowered
            or " data" in lowered
            or "but " in lowered
            or "in reply to" in lowered
        )
        else None
    )
    if phrase:
        group = phrase.lastgroup or ""
        if group in _GROUP_TO_COMMAND:
            return _GROUP_TO_COMMAND[group]
        return _WORD_TO_COMMAND.get(phrase.group(group).lower(), "")
    if not _ANY_STAGE.search(text):
        return ""
    stages = {m.group(1)[:4] for m in _STAGES.finditer(text)}
    found = [s for s in _STAGE_ORDER if s[:4] in stages]
    return found[-1] if found else ""


_REMOTE_HOST = re.compile(
    r"(?:\bhost|talking to|connected to|remote host|remote server)\s+"
    r"\[?([A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63}){0,10}\.[A-Za-z]{2,24})\b",
    re.I,
)


def remote_host_in(text: str) -> str:
    """The remote host named in a report's words ("host mx.example.org[192.0.2.1] said")."""
    match = _REMOTE_HOST.search(text[:4000]) if text else None
    return match.group(1).rstrip(".").lower() if match else ""
