"""Key material the relay generates: DKIM keys, the HMAC secret, the dev TLS certificate."""

import base64
import datetime
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def new_dkim_key() -> str:
    """An RSA-2048 private key as PKCS#8 PEM (RFC 8301: at least 1024, 2048 recommended)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_b64(private_pem: str) -> str:
    """The p= value of the DKIM TXT record: base64 DER SubjectPublicKeyInfo (RFC 6376 3.6.1)."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def new_selector() -> str:
    """A selector unique per key, so a key can be rotated without clashing with the old one."""
    return "r" + datetime.datetime.now(datetime.UTC).strftime("%Y%m") + secrets.token_hex(2)


def write_private(path: Path, data: bytes) -> bool:
    """Write a file readable by the owner only, unless it exists. True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return True


def load_secret(data_dir: Path) -> bytes:
    """The HMAC key for bounce and unsubscribe tokens (written by `relay init`)."""
    path = data_dir / "secret.key"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `relay init`")
    return bytes.fromhex(path.read_text().strip())


def dev_certificate(hostname: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for the embedded default; replace it in production."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
