"""Signed opt-out tokens (SPEC "Opt-out"; RFC 8058 one-click).

The link token carries shop, address and kind plus an HMAC over them: it cannot be guessed or
altered to opt out somebody else, and it never expires (RFC 8058 3.1 expects a link that keeps
working). The mailto token is short (RFC 5321 4.5.3.1.1 caps a local part at 64 octets), so it
is the MAC alone and the relay keeps a table from it to (shop, address, kind).
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

_LINK_CONTEXT = b"relay-unsubscribe-link\0"
_MAILTO_CONTEXT = b"relay-unsubscribe-mailto\0"
MAILTO_PREFIX = "u-"


@dataclass(frozen=True)
class OptOutTarget:
    shop: str
    address: str
    kind: str


def link_token(secret: bytes, target: OptOutTarget) -> str:
    payload = "\n".join((target.shop, target.address.lower(), target.kind)).encode()
    mac = hmac.new(secret, _LINK_CONTEXT + payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def read_link_token(secret: bytes, token: str) -> OptOutTarget | None:
    """The target of a valid token; None for anything tampered, truncated or foreign."""
    payload_text, sep, mac_text = token.partition(".")
    if not sep:
        return None
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    good = hmac.new(secret, _LINK_CONTEXT + payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, good):
        return None
    try:
        shop, address, kind = payload.decode().split("\n")
    except (UnicodeDecodeError, ValueError):
        return None
    return OptOutTarget(shop, address, kind)


def mailto_token(secret: bytes, target: OptOutTarget) -> str:
    payload = "\n".join((target.shop, target.address.lower(), target.kind)).encode()
    mac = hmac.new(secret, _MAILTO_CONTEXT + payload, hashlib.sha256).digest()[:16]
    return MAILTO_PREFIX + base64.b32encode(mac).decode().rstrip("=").lower()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    # Strict alphabet check: urlsafe_b64decode silently drops characters it does not know.
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # The last character has spare bits that decoding ignores; only the canonical spelling
    # counts, so a token with one changed character never still works.
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
