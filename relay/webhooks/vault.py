"""Webhook signing secrets sealed for the database: AES-256-GCM under a key derived from the
relay's `secret.key`, with the shop's name as associated data.

Why sealed and not hashed: the relay signs every POST with the secret (HMAC, Standard
Webhooks), so it must read it back; a hash (as for API tokens and passwords) cannot sign.
Why not in clear: the database travels further than the key file. It is copied to backups,
moved by `relay db copy` and, with several nodes, lives on a PostgreSQL server that its
administrators and their backups see; `secret.key` stays on the relay nodes (mode 0600, the
same file every node already needs for the bounce and opt-out HMACs). A dump of the database
alone then cannot forge webhooks to any shop. The shop's name is bound in as associated data,
so a sealed secret copied to another shop's row does not open. The key is derived with HKDF
(RFC 5869) for this one purpose, so it is never the HMAC key itself.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"relay webhook secret v1"
_VERSION = b"\x01"
_NONCE = 12  # bytes: the GCM nonce size NIST SP 800-38D recommends


class SealBroken(Exception):
    """A sealed secret that does not open: another relay's secret.key, or altered data."""


class Vault:
    def __init__(self, relay_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(relay_secret)
        self._aead = AESGCM(key)

    def seal(self, shop: str, secret: str) -> bytes:
        nonce = os.urandom(_NONCE)  # random 96-bit nonces: safe far beyond our few secrets
        return _VERSION + nonce + self._aead.encrypt(nonce, secret.encode(), shop.encode())

    def open(self, shop: str, sealed: bytes) -> str:
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE + 16:
            raise SealBroken(f"the webhook secret of shop {shop} is not sealed by this relay")
        nonce, box = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
        try:
            return self._aead.decrypt(nonce, box, shop.encode()).decode()
        except InvalidTag:
            raise SealBroken(
                f"the webhook secret of shop {shop} does not open with this relay's secret.key"
                " (a database from another relay?): set a new one with"
                f" `relay shop webhook {shop} --rotate-secret`"
            ) from None
