"""Salted scrypt password hashes for shop SMTP credentials (stored only as hashes).

Verification result cache: a shop's software authenticates on every connection and scrypt is
deliberately slow (~50 ms of CPU), so a successful (hash, password) pair is remembered as an
HMAC under a per-process key. The cache never holds a password and dies with the process.
The stored hash is part of what it remembers, so a password changed or a shop removed (`relay
shop set --password`, `relay shop remove`: a new or an unusable hash) matches nothing it holds:
no process has to be told to forget.
"""

import base64
import hashlib
import hmac
import os
import secrets

# RFC 7914 parameters: N=2^14, r=8, p=1 (16 MiB, the common interactive-login setting).
_N, _R, _P = 2**14, 8, 1
_PROCESS_KEY = os.urandom(32)
_verified: set[bytes] = set()


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def remembered(password: str, stored: str) -> bool:
    """True when this pair was verified before in this process (no scrypt needed)."""
    return _marker(password, stored) in _verified


def verify_password(password: str, stored: str) -> bool:
    """The full check (scrypt: run it off the event loop); remembers a success."""
    if remembered(password, stored):
        return True
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    ok = hmac.compare_digest(got, _unb64(digest))
    if ok:
        _verified.add(_marker(password, stored))
    return ok


def _marker(password: str, stored: str) -> bytes:
    return hmac.new(_PROCESS_KEY, f"{stored}\0{password}".encode(), "sha256").digest()


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
