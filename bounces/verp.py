"""Signed bounce addresses (VERP): b-<token>@<bounce domain>.

The token carries the recipient row id and an HMAC over it, so a bounce maps back to exactly one
message and recipient, and a forged or altered address maps to nothing (SPEC "Sender identity").
Base32 in lower case: some MTAs lower-case local parts, and RFC 5321 4.1.2 allows only a limited
character set in a plain dot-atom.
"""

import base64
import binascii
import hashlib
import hmac

_PREFIX = "b-"
_CONTEXT = b"relay-bounce\0"
_MAC_BYTES = 10  # 80 bits: forging needs ~2^79 tries, each one an SMTP transaction


def encode_token(secret: bytes, recipient_id: int) -> str:
    payload = recipient_id.to_bytes(8, "big")
    raw = payload + _mac(secret, payload)
    return base64.b32encode(raw).decode().rstrip("=").lower()


def decode_token(secret: bytes, token: str) -> int | None:
    """The recipient id, or None when the token is malformed or its signature is wrong."""
    text = token.strip().upper()
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 8 + _MAC_BYTES:
        return None
    if base64.b32encode(raw).decode().rstrip("=") != text:
        return None  # spare bits set: only the canonical spelling is valid
    payload, mac = raw[:8], raw[8:]
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    return int.from_bytes(payload, "big")


def bounce_address(secret: bytes, recipient_id: int, bounce_domain: str) -> str:
    return f"{_PREFIX}{encode_token(secret, recipient_id)}@{bounce_domain}"


def token_of(address: str, bounce_domain: str) -> str | None:
    """The token of `b-<token>@<bounce_domain>`, unverified; None for any other address."""
    local, _, domain = address.strip().strip("<>").rpartition("@")
    if domain.lower() != bounce_domain.lower() or not local.lower().startswith(_PREFIX):
        return None
    return local[len(_PREFIX) :]


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]
