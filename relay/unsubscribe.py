"""Opt-out and re-subscribe tokens (SPEC "Opt-out"; RFC 8058 one-click).

The link token is (shop, address, kind) encrypted and authenticated with AES-SIV (RFC 5297)
under a key derived from the relay's secret: nobody can read the customer's address from the
URL (issue 13 item 8), guess a token or alter one to opt out somebody else, and it never expires
(RFC 8058 3.1 expects a link that keeps working). AES-SIV is deterministic: the same target
always gets the same token, which needs no table and works on every node alike. Links sent
before (the readable form `base64(payload).base64(mac)`) are still read: they have a '.'.

The re-subscribe token undoes one opt-out: it carries the target and the opt-out's time, and
works for 30 days after it (then only an admin removes the opt-out). The mailto token is short
(RFC 5321 4.5.3.1.1 caps a local part at 64 octets), so it is a MAC alone and the relay keeps a
table from it to (shop, address, kind).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_LINK_CONTEXT = b"relay-unsubscribe-link\0"  # the readable form of links sent before
_LINK_V2 = b"relay-unsubscribe-link-v2"
_RESUBSCRIBE = b"relay-resubscribe-v1"
_MAILTO_CONTEXT = b"relay-unsubscribe-mailto\0"
MAILTO_PREFIX = "u-"
RESUBSCRIBE_DAYS = 30
RESUBSCRIBE_SECONDS = RESUBSCRIBE_DAYS * 86400


@dataclass(frozen=True)
class OptOutTarget:
    shop: str
    address: str
    kind: str

    def payload(self) -> bytes:
        return "\n".join((self.shop, self.address.lower(), self.kind)).encode()


def link_token(secret: bytes, target: OptOutTarget) -> str:
    return _b64(_cipher(secret, _LINK_V2).encrypt(target.payload(), [_LINK_V2]))


def read_link_token(secret: bytes, token: str) -> OptOutTarget | None:
    """The target of a valid token (either form); None for anything tampered, truncated or
    foreign."""
    if "." in token:
        return _read_legacy(secret, token)
    fields = _open(secret, _LINK_V2, token, 3)
    return OptOutTarget(*fields) if fields else None


def resubscribe_token(secret: bytes, target: OptOutTarget, opted_out_at: float) -> str:
    payload = target.payload() + b"\n" + repr(float(opted_out_at)).encode()
    return _b64(_cipher(secret, _RESUBSCRIBE).encrypt(payload, [_RESUBSCRIBE]))


def read_resubscribe_token(secret: bytes, token: str) -> tuple[OptOutTarget, float] | None:
    """(target, when the opt-out was made) of a valid token, whatever its age; None else."""
    fields = _open(secret, _RESUBSCRIBE, token, 4)
    if fields is None:
        return None
    try:
        opted_out_at = float(fields[3])
    except ValueError:
        return None
    return OptOutTarget(*fields[:3]), opted_out_at


def resubscribe_open(opted_out_at: float, now: float) -> bool:
    """Whether a re-subscribe link for an opt-out made at `opted_out_at` still works."""
    return now - opted_out_at <= RESUBSCRIBE_SECONDS


def mailto_token(secret: bytes, target: OptOutTarget) -> str:
    mac = hmac.new(secret, _MAILTO_CONTEXT + target.payload(), hashlib.sha256).digest()[:16]
    return MAILTO_PREFIX + base64.b32encode(mac).decode().rstrip("=").lower()


def legacy_link_token(secret: bytes, target: OptOutTarget) -> str:
    """The readable form links had before: still accepted, never issued."""
    payload = target.payload()
    mac = hmac.new(secret, _LINK_CONTEXT + payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def public_url_warning(public_url: str) -> str | None:
    """RFC 8058 3.1: the one-click URI must be HTTPS. http:// is fine on loopback (tests, a
    relay behind a local TLS proxy that rewrites nothing) and nowhere else."""
    parts = urlsplit(public_url)
    if parts.scheme.lower() == "https":
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() == "http" and _loopback(host):
        return None
    return (
        f"http.public_url {public_url!r} is not https://: mail clients refuse one-click"
        " unsubscribe over plain HTTP (RFC 8058 3.1) and the links travel unencrypted; set an"
        " https:// URL served by a TLS proxy in front of http.listen"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open(secret: bytes, context: bytes, token: str, count: int) -> list[str] | None:
    try:
        payload = _cipher(secret, context).decrypt(_unb64(token), [context])
        fields = payload.decode().split("\n")
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return fields if len(fields) == count else None


def _read_legacy(secret: bytes, token: str) -> OptOutTarget | None:
    payload_text, _, mac_text = token.partition(".")
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


@lru_cache(maxsize=8)
def _cipher(secret: bytes, context: bytes) -> AESSIV:
    """AES-256-SIV (a 64-byte key), one key per use, derived from the relay's secret."""
    key = b"".join(hmac.new(secret, context + bytes([i]), hashlib.sha256).digest() for i in (1, 2))
    return AESSIV(key)


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
