"""DKIM signing: byte-identical to stock dkimpy, and the header list the design asks for."""

from __future__ import annotations

import re

import dkim
import dkim.canonicalization
import pytest

from relay import dkim_sign
from relay.keys import new_dkim_key

MESSAGE = (
    b"From: Mein Shop <info@shop.example.com>\r\nTo: max@example.org\r\n"
    b"Subject: Zahlungserinnerung\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <a1@shop.example.com>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nBitte zahlen Sie.\r\n"
)


BODY_WITH_SPACES = b"Sehr  geehrte\tKundin, \r\n  Betrag:  12,00 EUR\t \r\n\r\n\r\n"


@pytest.fixture(scope="module")
def key() -> str:
    return new_dkim_key()


@pytest.mark.parametrize("body", [b"Bitte zahlen Sie.\r\n", BODY_WITH_SPACES])
def test_signature_is_byte_identical_to_stock_dkimpy(key: str, body: bytes, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    message = MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body
    monkeypatch.setattr("time.time", lambda: 1795950000.0)
    ours = dkim_sign.sign(message, "shop.example.com", "s1", key)
    # Stock dkimpy: every seam we replaced put back, PEM key, its pure-Python RSA.
    monkeypatch.setattr(dkim, "rfc822_parse", dkim_sign._stock_rfc822_parse)
    monkeypatch.setattr(
        dkim.canonicalization, "strip_trailing_whitespace", dkim_sign._stock_strip_trailing
    )
    monkeypatch.setattr(
        dkim.canonicalization,
        "compress_whitespace",
        lambda content: re.sub(b"[\t ]+", b" ", content),
    )
    stock = dkim.sign(
        message,
        b"s1",
        b"shop.example.com",
        key.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=dkim_sign.header_list(message),
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


def test_fast_parse_and_strip_match_dkimpy() -> None:
    import random

    from relay import dkim_sign

    rng = random.Random(11)
    for _ in range(2000):
        body = bytes(rng.choice(b" \ta.\r\n") for _ in range(rng.randint(0, 60)))
        crlf = body.replace(b"\r", b"").replace(b"\n", b"\r\n")
        for sample in (body, crlf):
            assert dkim_sign._strip_trailing_whitespace(sample) == (
                dkim_sign._stock_strip_trailing(sample)
            )
            message = b"From: a@example.org\r\nSubject: x\r\n y\r\n\r\n" + sample
            assert dkim_sign._rfc822_parse(message) == dkim_sign._stock_rfc822_parse(message)
