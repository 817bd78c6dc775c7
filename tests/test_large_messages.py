"""Issue 9 item 10: large messages go through a spool file, are stored byte for byte and signed
correctly, several at once; an oversized one is refused without being kept anywhere.

Real parts: `relay serve`, swaks and smtplib over STARTTLS with AUTH, Mail::DKIM as the
verifier with the keys served by nsd. The memory figures come from `bench/accept --size`.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess, submit
from tests.keys_in_dns import publish_keys, stored_message, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.smtp_raw import RawSMTP

FROM = "info@shop.example.com"


def _body(size: int, seed: int) -> bytes:
    line = f"Position {seed:04d}  mit  Leerraum \t und Ende \r\n".encode()
    return line * (size // len(line))


def _message(size: int, seed: int) -> bytes:
    head = f"From: Mein Shop <{FROM}>\r\nTo: <{names.CUSTOMER}>\r\nSubject: Anhang {seed}\r\n"
    return head.encode() + f"X-Relay-Order: L-{seed}\r\n\r\n".encode() + _body(size, seed)


def _send(port: int, message: bytes) -> str:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        client.starttls(context=context)
        client.login(SHOP, SHOP_PASSWORD)
        client.mail(FROM)
        client.rcpt(names.CUSTOMER)
        code, reply = client.data(message)
    assert code == 250, reply
    return reply.decode().rsplit(" ", 1)[1]


def test_parallel_large_messages_are_stored_exactly_and_verify(
    relay: RelayProcess, nsd: NsdServer
) -> None:
    publish_keys(nsd, relay)
    messages = {seed: _message(3_000_000, seed) for seed in range(6)}  # 3 MB: spooled to disk
    with ThreadPoolExecutor(6) as pool:
        sent_ids = list(pool.map(lambda m: _send(relay.submission_port, m), messages.values()))
    ids = dict(zip(messages, sent_ids, strict=True))
    for seed, queue_id in ids.items():
        sent = stored_message(relay, queue_id, names.CUSTOMER)
        assert sent.endswith(b"\r\n\r\n" + _body(3_000_000, seed))  # the body byte for byte
        assert hashlib.sha256(sent).hexdigest()  # readable back in full
    # Mail::DKIM on two of them (the verifier reads the whole message: a few seconds each).
    for seed in (0, 5):
        sent = stored_message(relay, ids[seed], names.CUSTOMER)
        assert verify_dkim(sent, nsd.nameserver)[0].startswith("pass d=relay.example.net")
    assert list((relay.root / "var" / "spool").iterdir()) == []


def test_an_oversized_message_is_refused_and_nothing_is_kept(relay_small: RelayProcess) -> None:
    """max_message_size 20KB here: the data goes on past the limit, is read to its end and
    dropped; the session stays usable; no row, no spool file."""
    smtp = RawSMTP(relay_small.submission_port)
    smtp.cmd("EHLO shop.example.com")
    smtp.starttls()
    assert smtp.login(SHOP, SHOP_PASSWORD).startswith("235")
    assert smtp.cmd(f"MAIL FROM:<{FROM}>").startswith("250")
    assert smtp.cmd(f"RCPT TO:<{names.CUSTOMER}>").startswith("250")
    assert smtp.cmd("DATA").startswith("354")
    smtp.send(f"From: {FROM}\r\nSubject: gross\r\n\r\n".encode() + _body(3_000_000, 1) + b".\r\n")
    assert smtp.reply().startswith("552 5.3.4 Message too big")
    assert smtp.cmd("NOOP").startswith("250")
    smtp.close()
    assert list((relay_small.root / "var" / "spool").iterdir()) == []
    assert relay_small.recipients() == []


def test_a_large_message_through_swaks_is_delivered_whole(
    relay: RelayProcess, tmp_path: Path
) -> None:
    body = tmp_path / "body.txt"
    body.write_bytes(_body(2_500_000, 7).replace(b"\r\n", b"\n"))
    queue_id = submit(relay, names.CUSTOMER, "X-Relay-Order: L-swaks", body=f"@{body}")
    relay.wait_state(names.CUSTOMER, {"delivered"}, timeout=60)
    assert _body(2_500_000, 7) in stored_message(relay, queue_id, names.CUSTOMER)
