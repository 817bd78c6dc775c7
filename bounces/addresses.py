"""Finding and tidying e-mail addresses in reports."""

from __future__ import annotations

import re

# Pragmatic RFC 5321 mailbox: dot-atom or quoted local part, a domain with a dot or a
# bracketed address literal. Bounded repetition keeps matching linear on hostile text.
_LOCAL = r"(?:\"[^\"\n]{1,200}\"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,200})"
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.){0,20}[A-Za-z0-9\-]{1,63}|\[[0-9.:A-Fa-f]{2,60}\])"
)
ADDRESS = re.compile(rf"({_LOCAL}@{_DOMAIN})")
_TOKEN = re.compile(r"(?:^|[\s<:,;\"'(=])b-([A-Za-z0-9_-]{4,200})@", re.M)


def clean(address: str) -> str:
    """Strip the RFC 3464 address type, brackets, quotes and trailing punctuation."""
    value = address.strip()
    if ";" in value and value.split(";", 1)[0].strip().lower() in (
        "rfc822",
        "utf-8",
        "x400",
        "x-local",
    ):
        value = value.split(";", 1)[1]
    value = value.strip().strip("<>").strip()
    match = ADDRESS.search(value)
    if not match:
        return ""
    found = _trim(match.group(1))
    return found if "@" in found and not found.startswith("@") else ""


def _trim(address: str) -> str:
    """Strip punctuation around an address; keep the quotes of a quoted local part
    ("neko..nyaan"@example.org, RFC 5321 §4.1.2)."""
    if address.startswith('"') and '"@' in address:
        return address.rstrip(".,;:'\")]")
    return address.strip(".,;:'\"()[]")


def find_all(text: str, limit: int = 50) -> list[str]:
    """Addresses in order of appearance, without duplicates (case-insensitive)."""
    seen: set[str] = set()
    found: list[str] = []
    for match in ADDRESS.finditer(text):
        address = _trim(match.group(1))
        if "@" not in address or address.startswith("@"):
            continue
        if not _looks_valid(address):
            continue
        key = address.lower()
        if key not in seen:
            seen.add(key)
            found.append(address)
            if len(found) >= limit:
                break
    return found


def _looks_valid(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    if not local or not domain or (domain.startswith("[") and not domain.endswith("]")):
        return False
    return "." in domain or domain.startswith("[") or domain.isalnum()


def is_mailer_daemon(address: str) -> bool:
    """The sender of bounces itself: never the failed recipient (postmaster may be)."""
    return address.lower().startswith(("mailer-daemon@", "double-bounce@"))


def find_token(*values: str) -> str | None:
    """The relay's token from the first b-<token>@... address among `values`."""
    for value in values:
        if value:
            match = _TOKEN.search(value)
            if match:
                return match.group(1)
    return None
