"""Garbage at the bounce listener: every report is stored intact, nothing escapes, the
listener keeps answering; `relay bounces import` takes the same path from a file."""

from __future__ import annotations

import hashlib
import smtplib
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounces.verp import bounce_address
from relay.keys import load_secret
from tests.harness import RelayProcess

GARBAGE = st.one_of(
    st.binary(min_size=1, max_size=4000),
    st.text(min_size=1, max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(
        lambda n, v: b"X-Huge: " + v * n + b"\r\n\r\nbody",
        st.integers(1, 2000),
        st.sampled_from([b"a", b"\xff", b"=?utf-8?q?x?="]),
    ),
    st.builds(
        lambda cut: (
            b"Content-Type: multipart/report; report-type=delivery-status;"
            b" boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status"
            b"\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nStatus: 5.1.1"
            b"\r\n--x--\r\n"
        )[:cut],
        st.integers(5, 200),
    ),
)


def test_listener_survives_garbage_and_stores_it_intact(relay: RelayProcess) -> None:
    secret = load_secret(relay.root / "var")
    to = bounce_address(secret, 1, "bounces.relay.example.net")
    sent: list[bytes] = []

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(GARBAGE)
    def send(payload: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
            code, _ = smtp.ehlo("mx.example.org")
            smtp.mail("")
            smtp.rcpt(to)
            code, reply = smtp.data(payload)
            assert code == 250, reply
            sent.append(payload)

    send()
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    stored = [bytes(r[0]) for r in conn.execute("SELECT raw FROM reports ORDER BY id")]
    conn.close()
    assert len(stored) == len(sent)
    # smtplib normalises line endings and dot-stuffs; compare what SMTP carries.
    expected = sorted(hashlib.sha256(_normalised(p)).hexdigest() for p in sent)
    assert sorted(hashlib.sha256(s).hexdigest() for s in stored) == expected
    assert relay.proc is not None and relay.proc.poll() is None


def _normalised(payload: bytes) -> bytes:
    """What the relay must store: smtplib's wire form (bytes sent as is, a "." after any line
    break doubled, CRLF added at the end), minus RFC 5321 4.5.2 transparency (a "." after CRLF
    or at the start removed) -- i.e. exactly the bytes that crossed SMTP."""
    import re

    wire = re.sub(rb"(?m)^\.", b"..", payload)
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    if wire.startswith(b"."):
        wire = wire[1:]
    return wire.replace(b"\r\n.", b"\r\n")


def test_bounces_import_runs_the_same_path(relay: RelayProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sample = tmp_path / "unknown.eml"
    sample.write_bytes(
        b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail\r\n"
        b"\r\nI'm sorry, nothing here.\r\n"
    )
    result = relay.json("bounces", "import", str(sample))
    assert result["status"] == "unrecognized"
    assert relay.json("bounces", "list", "--unrecognized")[0]["id"] == result["report_id"]
