"""Finding and tidying e-mail addresses in reports."""

from __future__ import annotations

import re

# Pragmatic RFC 5321 mailbox: dot-atom or quoted local part, a domain with a dot or a
# bracketed address literal. Bounded repetition keeps matching linear on hostile text, and a
# dot-atom starts where its run of atom characters starts (the look-behind): else a search
# tries 200 characters from every position of a long run.
_ATOM = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-"
_LOCAL = rf"(?:\"[^\"\n]{{1,200}}\"|(?<![{_ATOM}])[{_ATOM}]{{1,200}})"
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.){0,20}[A-Za-z0-9\-]{1,63}|\[[0-9.:A-Fa-f]{2,60}\])"
)
ADDRESS = re.compile(rf"({_LOCAL}@{_DOMAIN})")
# RFC 6531 §3.3: with SMTPUTF8 a local part and a domain (U-labels) may be any UTF-8.
# Only where an address stands alone (a DSN field, "<...>") may it contain non-ASCII:
# in running text "送信先kijitora@example.jp宛" the script around it is no part of it.
_U = "\u0080-\U0010ffff"
_LOCAL_UTF8 = rf"(?:\"[^\"\n]{{1,200}}\"|(?<![{_ATOM}{_U}])[{_ATOM}{_U}]{{1,200}})"
_LABEL_UTF8 = rf"[A-Za-z0-9{_U}](?:[A-Za-z0-9\-{_U}]{{0,62}})"
_DOMAIN_UTF8 = rf"(?:{_LABEL_UTF8}(?:\.{_LABEL_UTF8}){{0,20}}|\[[0-9.:A-Fa-f]{{2,60}}\])"
ADDRESS_UTF8 = re.compile(rf"({_LOCAL_UTF8}@{_DOMAIN_UTF8})")
_BRACKETED_UTF8 = re.compile(rf"<({_LOCAL_UTF8}@{_DOMAIN_UTF8})>")
# RFC 6533 §3: the utf-8 address type writes characters it must not carry as \x{HEX}.
_EMBEDDED_UNICODE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_TOKEN = re.compile(r"(?:^|[\s<:,;\"'(=])b-([A-Za-z0-9_-]{4,200})@", re.M)


def clean(address: str) -> str:
    """The address of a field that holds one (RFC 3464 §2.3.2, RFC 6533 §3): without the
    address type, brackets, quotes and trailing punctuation; non-ASCII kept."""
    value = address.strip()
    kind, sep, rest = value.partition(";")
    if sep and kind.strip().lower() in ("rfc822", "utf-8", "x400", "x-local", "unknown"):
        value = rest
    value = _EMBEDDED_UNICODE.sub(_unicode_char, value) if "\\x{" in value else value
    value = value.strip().strip("<>").strip()
    match = (ADDRESS_UTF8 if not value.isascii() else ADDRESS).search(value)
    if not match:
        return ""
    found = _trim(match.group(1))
    return found if "@" in found and not found.startswith("@") else ""


def _unicode_char(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def _trim(address: str) -> str:
    """Strip punctuation around an address; keep the quotes of a quoted local part
    ("neko..nyaan"@example.org, RFC 5321 §4.1.2)."""
    if address.startswith('"') and '"@' in address:
        return address.rstrip(".,;:'\")]")
    return address.strip(".,;:'\"()[]")


def find_all(text: str, limit: int = 50) -> list[str]:
    """Addresses in order of appearance, without duplicates (case-insensitive).

    In running text an address is ASCII unless it stands in angle brackets (RFC 5321
    §4.1.2 paths): "<jörg.müller@example.org>" is read whole.
    """
    seen: set[str] = set()
    found: list[str] = []
    for address in _candidates(text):
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


def _candidates(text: str):
    if text.isascii():
        yield from (_trim(m.group(1)) for m in ADDRESS.finditer(text))
        return
    # Non-ASCII somewhere: bracketed UTF-8 addresses first where they are, so that the
    # ASCII tail of "<jörg.müller@example.org>" is not taken for an address of its own.
    spans = [(m.start(1), m.end(1), m.group(1)) for m in _BRACKETED_UTF8.finditer(text)]
    for m in ADDRESS.finditer(text):
        if not any(start <= m.start(1) < end for start, end, _ in spans):
            spans.append((m.start(1), m.end(1), m.group(1)))
    for _, _, address in sorted(spans):
        yield _trim(address)


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
