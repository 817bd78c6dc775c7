"""DKIM signing (RFC 6376) through dkimpy, with the RSA operation done by OpenSSL.

dkimpy builds the signature header (canonicalization, tags, folding) but signs RSA in pure
Python, about 17x slower than OpenSSL. We keep every byte dkimpy produces and swap only the RSA
step: `FastKey` objects pass through dkimpy's key parser untouched and are signed by the
`cryptography` package. RSASSA-PKCS1-v1_5 is deterministic, so the result is byte-identical to
stock dkimpy (tests/test_dkim_sign.py proves it).
"""

import re
from collections import Counter
from functools import lru_cache

import dkim
import dkim.canonicalization
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

# RFC 6376 5.4 / 8.15 and RFC 8058 4: sign these once more than they occur ("oversign"), so
# nobody can add a second From, Subject or List-Unsubscribe after signing (nor a second report
# reference, bounces.verp.REF_HEADER).
OVERSIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "x-report-ref",
)
# Signed when present: they change how the message is read.
SIGNED_IF_PRESENT = (
    "cc",
    "sender",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-language",
    "in-reply-to",
    "references",
)
CANONICALIZE = (b"relaxed", b"relaxed")


class FastKey:
    """An RSA private key that dkimpy carries around opaquely and OpenSSL signs with."""

    def __init__(self, pem: str) -> None:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("DKIM key must be RSA")
        self.key = key


@lru_cache(maxsize=1024)
def fast_key(pem: str) -> FastKey:
    return FastKey(pem)


def header_list(message: bytes) -> list[bytes]:
    """The h= list: oversigned names n+1 times, the others as often as they occur."""
    counts = Counter(_header_names(message))
    names: list[str] = []
    for name in OVERSIGNED:
        names += [name] * (counts[name] + 1)
    for name in SIGNED_IF_PRESENT:
        names += [name] * counts[name]
    return [n.encode() for n in names]


def sign(message: bytes, domain: str, selector: str, key_pem: str) -> bytes:
    """The `DKIM-Signature: ...\\r\\n` header line for `message` (CRLF bytes as sent)."""
    signer = dkim.DKIM(message, linesep=b"\r\n")
    return signer.sign(
        selector.encode(),
        domain.encode(),
        fast_key(key_pem),  # type: ignore[arg-type]  # see _parse_key below
        canonicalize=CANONICALIZE,
        include_headers=header_list(message),
    )


def _header_names(message: bytes) -> list[str]:
    head = message.split(b"\r\n\r\n", 1)[0]
    names = []
    for line in head.split(b"\r\n"):
        if line and line[:1] not in (b" ", b"\t") and b":" in line:
            names.append(line.split(b":", 1)[0].strip().lower().decode("ascii", "replace"))
    return names


# --- the two seams in dkimpy, patched once: FastKey objects go to OpenSSL, anything else
# (PEM bytes from other callers) goes to dkimpy's own code exactly as before.
_stock_parse = dkim.parse_pem_private_key
_stock_rsa_sign = dkim.RSASSA_PKCS1_v1_5_sign


def _parse_key(data):  # type: ignore[no-untyped-def]
    return data if isinstance(data, FastKey) else _stock_parse(data)


def _rsa_sign(hash_obj, private_key):  # type: ignore[no-untyped-def]
    if not isinstance(private_key, FastKey):
        return _stock_rsa_sign(hash_obj, private_key)
    digest = hash_obj.digest()
    algorithm = hashes.SHA256() if len(digest) == 32 else hashes.SHA1()
    return private_key.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))


def _compress_whitespace(content: bytes) -> bytes:
    """RFC 6376 3.4.4 relaxed body: runs of WSP become one SP. dkimpy's pattern also matches
    (and replaces) every single space, which costs 300+ MB and most of the time on a 10 MB
    body; matching only runs that change gives the same bytes, and a body without a tab or
    two spaces in a row has none."""
    if b"\t" not in content and b"  " not in content:
        return content
    return _WSP_RUN.sub(b" ", content)


def _strip_trailing_whitespace(content: bytes) -> bytes:
    """RFC 6376 3.4.4: no WSP at the end of a line. Most bodies have none to strip; when
    some do, stripping line by line is much faster than dkimpy's regex, which starts a match at
    every space (the text after the last CRLF is no line end and stays as it is)."""
    if b" \r\n" not in content and b"\t\r\n" not in content:
        return content
    lines = content.split(b"\r\n")
    last = lines.pop()
    return b"\r\n".join([line.rstrip(b" \t") for line in lines] + [last])


def _rfc822_parse(message: bytes) -> tuple[list, bytes]:
    """dkimpy splits the whole message into lines and joins the body again; for the CRLF-only
    messages the relay signs, parsing the header block alone gives the same result."""
    end = message.find(b"\r\n\r\n")
    if end <= 0 or message.count(b"\n") != message.count(b"\r\n"):
        return _stock_rfc822_parse(message)
    headers, _ = _stock_rfc822_parse(message[: end + 4])
    return headers, message[end + 4 :]


_WSP_RUN = re.compile(rb"\t[\t ]*| [\t ]+")
_stock_strip_trailing = dkim.canonicalization.strip_trailing_whitespace
_stock_rfc822_parse = dkim.rfc822_parse

dkim.parse_pem_private_key = _parse_key
dkim.RSASSA_PKCS1_v1_5_sign = _rsa_sign
dkim.canonicalization.compress_whitespace = _compress_whitespace
dkim.canonicalization.strip_trailing_whitespace = _strip_trailing_whitespace
dkim.rfc822_parse = _rfc822_parse
