"""The parse layer for DKIM: key records (RFC 6376 §3.6.1) and the keys in them.

Keys are compared as keys, never as strings: the same RSA key can be written as
a SubjectPublicKeyInfo (what `opendkim-genkey` and the relay publish) or as a
bare PKCS#1 RSAPublicKey (what some tools and DNS hosts produce), with or
without line breaks.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dns_checks.taglist import TagListError, parse_tag_list

# The relay signs rsa-sha256 (RFC 8301 §3.1 forbids rsa-sha1 for signing).
SIGNING_HASH = "sha256"


class DkimSyntaxError(ValueError):
    """The TXT record is not a usable DKIM key record; the message says why, in words."""


@dataclass(frozen=True)
class DkimKeyRecord:
    """A parsed key record. public_key_b64 is p= without whitespace; "" means revoked."""

    key_type: str
    public_key_b64: str
    testing: bool

    @property
    def revoked(self) -> bool:
        # RFC 6376 §3.6.1: "An empty value means that this public key has been revoked."
        return self.public_key_b64 == ""


def parse_dkim_record(text: str) -> DkimKeyRecord:
    """'v=DKIM1; k=rsa; p=MIIB...' -> DkimKeyRecord. Raises DkimSyntaxError.

    Checks what makes verifiers discard the record (RFC 6376 §3.6.1, §6.1.2):
    a tag-list, v= first and exactly DKIM1 when present, p= present and valid
    base64, k= rsa (the relay's keys are RSA), h= allowing sha256, s= allowing email.
    The key bytes themselves are checked by `load_public_key`.
    """
    try:
        tags = parse_tag_list(text)
    except TagListError as exc:
        raise DkimSyntaxError(f"it is not a DKIM tag list: {exc}") from None
    values = dict(tags)
    names = [name for name, _ in tags]
    if "v" in values and (names[0] != "v" or values["v"] != "DKIM1"):
        raise DkimSyntaxError("v= must come first and be exactly v=DKIM1")
    if "p" not in values:
        raise DkimSyntaxError("it has no p= tag holding the public key")
    key_type = values.get("k", "rsa").lower()
    if key_type != "rsa":
        raise DkimSyntaxError(f"k={values['k']} is not an RSA key, and the relay signs with RSA")
    hashes = _list_tag(values.get("h", SIGNING_HASH))
    if SIGNING_HASH not in hashes:
        raise DkimSyntaxError(f"h={values['h']} does not allow sha256, which the relay uses")
    services = _list_tag(values.get("s", "*"))
    if not {"*", "email"} & set(services):
        raise DkimSyntaxError(f"s={values['s']} does not allow email")
    public_key_b64 = re.sub(r"\s+", "", values["p"])
    if public_key_b64:
        decode_base64(public_key_b64)
    testing = "y" in _list_tag(values.get("t", ""))
    return DkimKeyRecord(key_type, public_key_b64, testing)


def _list_tag(value: str) -> list[str]:
    """Colon-separated lists (h=, s=, t=), lowercased, whitespace ignored."""
    return [item.strip().lower() for item in value.split(":") if item.strip()]


def decode_base64(text: str) -> bytes:
    """Strict base64 (RFC 6376 §3.6.1 base64string): only the base64 alphabet, padded."""
    try:
        return base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise DkimSyntaxError("p= is not valid base64") from None


def load_public_key(b64: str) -> rsa.RSAPublicKey:
    """Base64 DER in either form (SubjectPublicKeyInfo or PKCS#1) -> RSA public key.

    Raises DkimSyntaxError when the bytes are not an RSA public key.
    """
    der = decode_base64(b64)
    try:
        # Reads SubjectPublicKeyInfo and, failing that, a bare PKCS#1 RSAPublicKey.
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm:  # a SubjectPublicKeyInfo of an unknown key type
        raise DkimSyntaxError("p= holds a public key that is not RSA") from None
    except ValueError:
        raise DkimSyntaxError("p= is valid base64 but not a public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise DkimSyntaxError("p= holds a public key that is not RSA")
    return key


def same_key(a: rsa.RSAPublicKey, b: rsa.RSAPublicKey) -> bool:
    """Equal modulus and exponent: the same key, however it was encoded."""
    return a.public_numbers() == b.public_numbers()


def spki_b64(key: rsa.RSAPublicKey) -> str:
    """The canonical p= value: base64 DER SubjectPublicKeyInfo, no line breaks."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")
