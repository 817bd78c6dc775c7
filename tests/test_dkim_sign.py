"""DKIM signing: byte-identical to stock dkimpy, and the header list the design asks for."""

from __future__ import annotations

import dkim
import pytest

from relay import dkim_sign
from relay.keys import new_dkim_key

MESSAGE = (
    b"From: Mein Shop <info@shop.example.com>\r\nTo: max@example.org\r\n"
    b"Subject: Zahlungserinnerung\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <a1@shop.example.com>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nBitte zahlen Sie.\r\n"
)


@pytest.fixture(scope="module")
def key() -> str:
    return new_dkim_key()


def test_signature_is_byte_identical_to_stock_dkimpy(key: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("time.time", lambda: 1795950000.0)
    ours = dkim_sign.sign(MESSAGE, "shop.example.com", "s1", key)
    # Stock dkimpy: PEM key, its own pure-Python RSA (the FastKey path is not taken).
    stock = dkim.sign(
        MESSAGE,
        b"s1",
        b"shop.example.com",
        key.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=dkim_sign.header_list(MESSAGE),
        linesep=b"\r\n",
    )
    assert ours == stock


def test_header_list_oversigns_and_covers_unsubscribe(key: str) -> None:
    signature = dkim_sign.sign(MESSAGE, "shop.example.com", "s1", key).decode()
    h_tag = "".join(signature.split("h=")[1].split(";")[0].split())
    names = h_tag.split(":")
    assert names.count("from") == 2 and names.count("subject") == 2  # oversigned
    assert names.count("list-unsubscribe") == 1 and "list-unsubscribe-post" in names
    assert "c=relaxed/relaxed" in signature and "a=rsa-sha256" in signature


def test_signature_verifies_with_dkimpy_and_fails_after_tampering(key: str) -> None:
    from relay.keys import public_key_b64

    signature = dkim_sign.sign(MESSAGE, "shop.example.com", "s1", key)
    record = f"v=DKIM1; k=rsa; p={public_key_b64(key)}".encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"s1._domainkey.shop.example.com." else b""

    assert dkim.verify(signature + MESSAGE, dnsfunc=dns)
    tampered = signature + MESSAGE.replace(b"Subject: Zahlungserinnerung", b"Subject: Gewinn")
    assert not dkim.verify(tampered, dnsfunc=dns)
    added = signature + b"Subject: second\r\n" + MESSAGE  # oversigning: an added Subject breaks it
    assert not dkim.verify(added, dnsfunc=dns)


def test_fast_whitespace_compression_matches_dkimpy() -> None:
    import random
    import re

    from relay.dkim_sign import _compress_whitespace

    def stock(content: bytes) -> bytes:
        return re.sub(b"[\t ]+", b" ", content)

    rng = random.Random(7)
    for _ in range(2000):
        sample = bytes(rng.choice(b" \t\r\nab") for _ in range(rng.randint(0, 40)))
        assert _compress_whitespace(sample) == stock(sample), sample
