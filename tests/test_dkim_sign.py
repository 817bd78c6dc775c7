"""DKIM signing: our signer on `cryptography` writes byte for byte what stock dkimpy writes, and
Mail::DKIM (an independent implementation) verifies every signature; dkimpy is not patched.

Real parts: dkimpy as installed (no seam replaced) and Perl Mail::DKIM; the keys come from the
command line instead of DNS (tests/tools/dkim_check.pl), so the corpus runs in one process.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import dkim
import pytest

from relay import dkim_sign
from relay.keys import new_dkim_key, public_key_b64
from tests.rig.tools import require

CHECKER = Path(__file__).parent / "tools" / "dkim_check.pl"
NOW = 1795950000
HEAD = (
    b"From: Mein Shop <info@shop.example.com>\r\nTo: max@example.org\r\n"
    b"Subject: Zahlungserinnerung\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <a1@shop.example.com>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
)
MESSAGE = HEAD + b"\r\nBitte zahlen Sie.\r\n"


@pytest.fixture(scope="module")
def key() -> str:
    return new_dkim_key()


def _stock(message: bytes, key: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """dkimpy exactly as installed, with its own pure-Python RSA, at time NOW."""
    head = message.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: float(NOW))
        return dkim.sign(
            message,
            b"s1",
            b"shop.example.com",
            key.encode(),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[n.encode() for n in dkim_sign.header_list(head)],
            linesep=b"\r\n",
        )


def _ours(message: bytes, key: str) -> bytes:
    end = message.find(b"\r\n\r\n")
    head, body = message[: end + 2], message[end + 4 :]
    return dkim_sign.sign_headers(
        head, dkim_sign.body_hash(body), "shop.example.com", "s1", key, now=NOW
    )


def _corpus() -> list[bytes]:
    """Bodies and headers where canonicalisation has work to do: whitespace runs and tabs,
    trailing whitespace, trailing empty lines, empty bodies, a body without its last CRLF,
    folded headers, and bodies crossing the hashing window with whitespace at the seam."""
    rng = random.Random(20261129)
    bodies = [
        b"",
        b"\r\n",
        b"\r\n\r\n\r\n",
        b"  \r\n\t\r\n",
        b"no final line end",
        b"Sehr  geehrte\tKundin, \r\n  Betrag:  12,00 EUR\t \r\n\r\n\r\n",
        b"a\r\n\r\nb\r\n\r\n",
        b"x" * (dkim_sign._WINDOW - 1) + b" \t \r\n  y\r\n\r\n",
        (b"Zeile  mit \t Leerraum \r\n" * 50_000) + b"\r\n" * 3,
    ]
    for _ in range(120):
        raw = bytes(rng.choice(b" \t.ab\r\n") for _ in range(rng.randint(0, 120)))
        bodies.append(raw.replace(b"\r", b"").replace(b"\n", b"\r\n"))
    messages = []
    for index, body in enumerate(bodies):
        spaces = bytes(rng.choice(b" \t") for _ in range(rng.randint(1, 4)))
        head = HEAD + b"Subject:" + spaces + b"zweite\r\n \tZeile" + spaces + b"\r\n"
        if index % 3 == 0:
            head += b"Reply-To: info@shop.example.com\r\nCc: a@example.org,\r\n\tb@example.org\r\n"
        messages.append(head + b"\r\n" + body)
    return messages


def test_signature_is_byte_identical_to_stock_dkimpy(key: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for message in _corpus():
        assert _ours(message, key) == _stock(message, key, monkeypatch), message[-200:]


def test_mail_dkim_verifies_every_signature(key: str) -> None:
    require("perl")
    # Mail::DKIM and dkimpy differ on one corner: a body whose last line has no CRLF and ends in
    # whitespace (dkimpy keeps the whitespace). SMTP data always ends in CRLF, so the relay never
    # signs such a body; it is left out here (and dkimpy's reading is checked above).
    corpus = [m for m in _corpus() if not m.endswith((b" ", b"\t"))]
    signed = [_ours(message, key) + message for message in corpus]
    done = subprocess.run(
        ["perl", str(CHECKER), public_key_b64(key)],
        input=b"\0".join(signed),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    results = done.stdout.decode().splitlines()
    assert len(results) == len(signed)
    failed = [
        (r, m[-120:]) for r, m in zip(results, signed, strict=True) if r.split()[:1] != ["pass"]
    ]
    assert failed == [], failed


def test_dkimpy_is_not_patched(key: str) -> None:
    """Importing our signer changes nothing in dkimpy: its verify and sign stay its own."""
    before = {name: getattr(dkim, name) for name in dir(dkim)}
    import importlib

    importlib.reload(dkim_sign)
    assert {name: getattr(dkim, name) for name in dir(dkim)} == before
    assert dkim.RSASSA_PKCS1_v1_5_sign.__module__ == "dkim.crypto"
    assert dkim.canonicalization.compress_whitespace.__module__ == "dkim.canonicalization"


def test_header_list_oversigns_and_covers_unsubscribe(key: str) -> None:
    signature = dkim_sign.sign(MESSAGE, "shop.example.com", "s1", key).decode()
    h_tag = "".join(signature.split("h=")[1].split(";")[0].split())
    names = h_tag.split(":")
    assert names.count("from") == 2 and names.count("subject") == 2  # oversigned
    assert names.count("list-unsubscribe") == 1 and "list-unsubscribe-post" in names
    assert "c=relaxed/relaxed" in signature and "a=rsa-sha256" in signature


def test_signature_verifies_with_dkimpy_and_fails_after_tampering(key: str) -> None:
    signature = dkim_sign.sign(MESSAGE, "shop.example.com", "s1", key)
    record = f"v=DKIM1; k=rsa; p={public_key_b64(key)}".encode()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"s1._domainkey.shop.example.com." else b""

    assert dkim.verify(signature + MESSAGE, dnsfunc=dns)
    tampered = signature + MESSAGE.replace(b"Subject: Zahlungserinnerung", b"Subject: Gewinn")
    assert not dkim.verify(tampered, dnsfunc=dns)
    added = signature + b"Subject: second\r\n" + MESSAGE  # oversigning: an added Subject breaks it
    assert not dkim.verify(added, dnsfunc=dns)


def test_the_body_hash_streams_a_large_body_without_copying_it_whole() -> None:
    """An 8 MB body with work on every line is hashed in windows: the same result as hashing
    the canonical body at once, and never a second copy of the body in memory."""
    import base64
    import hashlib
    import tracemalloc

    body = (b"Artikel 4711  Menge 1\t \r\n" * 320_000) + b"\r\n\r\n"
    canonical = body.replace(b"\t \r\n", b"\r\n").replace(b"  ", b" ")[:-4]
    expected = base64.b64encode(hashlib.sha256(canonical).digest())
    tracemalloc.start()
    got = dkim_sign.body_hash(memoryview(body))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert got == expected
    assert peak < len(body) // 2, peak
