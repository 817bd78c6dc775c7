"""Signed references to one recipient of one message, for reports that come back.

- The bounce address (VERP): b-<token>@<bounce domain>. The token carries the recipient row id
  and an HMAC over it, so a bounce maps back to exactly one message and recipient, and a forged
  or altered address maps to nothing (SPEC "Sender identity").
- The report reference: `<queue id>-<mac>`, the value of REF_HEADER, which the relay adds to
  each recipient's copy, so that a complaint (ARF, RFC 5965), which quotes the original message but
  goes to the complaint address, proves which recipient it is about. It is made before the
  recipient row exists (the header is DKIM-signed, and signing comes before storing), so its MAC
  is over the queue id and the recipient's address; the address itself is not in it.

Base32 in lower case: some MTAs lower-case local parts, and RFC 5321 4.1.2 allows only a limited
character set in a plain dot-atom.
"""

import base64
import binascii
import hashlib
import hmac
import re

REF_HEADER = "X-Report-Ref"  # the header that carries a report reference
_PREFIX = "b-"
_CONTEXT = b"relay-bounce\0"
_REF_CONTEXT = b"relay-report-ref\0"
_MAC_BYTES = 10  # 80 bits: forging needs ~2^79 tries, each one an SMTP transaction
_REF = re.compile(r"([0-9a-z]{1,40})-([a-z2-7]{16})")


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


def encode_ref(secret: bytes, queue_id: str, address: str) -> str:
    """The report reference of one recipient (`address`) of the message `queue_id`."""
    return f"{queue_id.lower()}-{_b32(_ref_mac(secret, queue_id, address))}"


def split_ref(value: str) -> tuple[str, str] | None:
    """(queue id as stored, i.e. upper case; the MAC) of a reference, unverified; None when
    `value` is no reference at all."""
    match = _REF.fullmatch(value.strip().lower())
    return (match.group(1).upper(), match.group(2)) if match else None


def ref_matches(secret: bytes, queue_id: str, address: str, mac: str) -> bool:
    """Whether `mac` (from split_ref) was made by this relay for this message and address."""
    return hmac.compare_digest(mac.lower(), _b32(_ref_mac(secret, queue_id, address)))


def _ref_mac(secret: bytes, queue_id: str, address: str) -> bytes:
    payload = f"{queue_id.upper()}\n{address.lower()}".encode()
    return hmac.new(secret, _REF_CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()
