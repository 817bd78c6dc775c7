"""Review finding: the bounce listener takes any number of RCPT commands in one transaction.

Submission stops at 100 recipients (relay/smtp/submission.py, `452 4.5.3`), but
`InboundHandler.handle_RCPT` (relay/inbound/listener.py) appends every accepted address, and the
complaint address is public and accepted any number of times. Measured live: 300,000
`RCPT TO:<fbl@relay.example.net>` (9.7 MB sent in 6 s, no AUTH, no token) grew the worker by
26 MB that stayed after QUIT; each report then stores the whole list as JSON and walks it in
the writer's transaction. From the session caps' worth of connections that is gigabytes.
RFC 5321 4.5.3.1.10 lets a server answer `452` past its limit (Postfix: 1000 by default).

Real parts: `relay serve` (one worker), pipelined RCPT commands over a plain TCP socket.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.review._live import one_worker_relay, stop_quickly

COUNT = 5_000


def test_a_transaction_cannot_name_thousands_of_recipients(tmp_path: Path) -> None:
    relay = one_worker_relay(tmp_path / "relay").start()
    try:
        with socket.create_connection(("127.0.0.1", relay.inbound_port), timeout=30) as sock:
            lines = sock.makefile("rb")
            lines.readline()
            sock.sendall(b"EHLO mx.example.org\r\n")
            while not lines.readline().startswith(b"250 "):
                pass
            sock.sendall(b"MAIL FROM:<postmaster@example.org>\r\n")
            assert lines.readline().startswith(b"250")
            sock.sendall(b"RCPT TO:<fbl@relay.example.net>\r\n" * COUNT)
            codes = [lines.readline()[:3] for _ in range(COUNT)]
    finally:
        stop_quickly(relay)
    accepted = codes.count(b"250")
    assert accepted <= 1000, f"{accepted} of {COUNT} recipients accepted in one transaction"
    assert b"452" in codes, set(codes)
