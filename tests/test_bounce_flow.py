"""Issue 5 acceptance: reports come back through the relay's bounce listener and change state.

Postfix (the customers' MX) accepts, then bounces later with its own DSN to the signed bounce
address; it reaches the relay's listener because the rig routes the bounce domain there.
"""

from __future__ import annotations

import email
import smtplib

import pytest

from tests.harness import RelayProcess, submit, wait
from tests.rig import names
from tests.rig.postfix import PostfixRig

# The end-to-end flows run on both store backends (tests/conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgresql")


def _send(relay: RelayProcess, to: str, order: str = "B-1", body: str = "Hallo") -> str:
    return submit(relay, to, "X-Relay-Kind: dunning", f"X-Relay-Order: {order}", body=body)


@pytest.mark.parametrize(
    ("address", "reason", "status", "blocked"),
    [
        (names.LATER_UNKNOWN, "userunknown", "5.1.1", True),
        (names.MAILBOX_FULL, "mailboxfull", "5.2.2", False),
        (names.TOO_BIG, "mesgtoobig", "5.3.4", False),
    ],
)
def test_postfix_dsn_after_acceptance_bounces_the_recipient(
    relay: RelayProcess, address: str, reason: str, status: str, blocked: bool
) -> None:
    # Over the rig's 1 KiB limit for toobig@, in lines of 70 (longer ones are refused).
    _send(relay, address, body="\n".join(["x" * 70] * 45))
    row = relay.wait_state(address, {"bounced"}, timeout=40)[0]
    assert (row["reason"], row["last_status"]) == (reason, status), row
    blocks = {b["address"]: b for b in relay.json("blocks", "list")}
    assert (address in blocks) is blocked
    if blocked:
        assert blocks[address]["source"].startswith("report:")
    report = relay.json("bounces", "list")[0]
    assert (report["kind"], report["status"]) == ("bounce", "matched")


def _arf(reported: bytes, complainer: str) -> bytes:
    boundary = "arf-boundary-1"
    return (
        (
            f"From: fbl@mailbox-provider.example.org\r\nTo: fbl@relay.example.net\r\n"
            f"Subject: Abuse report\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=feedback-report;"
            f' boundary="{boundary}"\r\n'
            f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is a spam complaint.\r\n"
            f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
            f"Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
            f"Original-Rcpt-To: <{complainer}>\r\nSource-IP: 127.0.0.1\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + reported.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        + (f"\r\n--{boundary}--\r\n".encode())
    )


def test_complaint_blocks_and_next_message_is_suppressed(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    complainer = f"angry@{names.CUSTOMER_DOMAIN}"
    _send(relay, complainer, order="C-1")
    relay.wait_state(complainer, {"delivered"})
    delivered = postfix.wait_for_messages(complainer)[0]
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.sendmail("", ["fbl@relay.example.net"], _arf(delivered, complainer))
    wait(lambda: _blocked(relay, complainer), 20, "the complaint to block the address")
    assert _blocked(relay, complainer)["reason"] == "complaint"
    assert relay.recipients(to=complainer)[0]["status"] == "delivered"  # stays delivered
    _send(relay, complainer, order="C-2")
    row = relay.recipients(order="C-2")[0]
    assert (row["status"], row["reason"]) == ("suppressed", "blocked")
    assert "address blocked after a spam complaint" in row["explanation"]


def _blocked(relay: RelayProcess, address: str) -> dict | None:
    return {b["address"]: b for b in relay.json("blocks", "list")}.get(address)


def test_forged_bounce_address_is_refused_at_rcpt(relay: RelayProcess) -> None:
    forged = [
        "b-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa@bounces.relay.example.net",  # bad signature
        "b-zz@bounces.relay.example.net",  # not a token
        "postmaster@bounces.relay.example.net",
        "someone@example.org",  # no relaying
    ]
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.ehlo("mx.example.org")
        smtp.mail("")
        for address in forged:
            code, text = smtp.rcpt(address)
            assert (code, text[:5]) == (550, b"5.1.1"), address
    assert relay.query("SELECT count(*) AS n FROM reports") == [{"n": 0}]


def _text_notice(to: str, subject: str, notice: str, returned: bytes) -> bytes:
    """A plain-text report with no delivery-status part, the returned message's headers
    quoted after the notice (as qmail and many appliances write them)."""
    headers = returned.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode()
    text = (
        f"From: MAILER-DAEMON@mx.{names.CUSTOMER_DOMAIN}\nTo: {to}\nSubject: {subject}\n"
        f"MIME-Version: 1.0\nContent-Type: text/plain\n\n{notice}\n"
        f"--- Below this line is a copy of the message.\n\n{headers}\n"
    )
    return text.replace("\n", "\r\n").encode()


def test_text_warning_leaves_the_recipient_and_text_give_up_bounces_it(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    """A notice without RFC 3464 fields: its words tell a warning (the remote still
    retries: nothing changes) from a give-up (the recipient is bounced, reason expired)."""
    address = f"forwarded-on@{names.CUSTOMER_DOMAIN}"
    _send(relay, address, order="T-1")
    relay.wait_state(address, {"delivered"})
    delivered = postfix.wait_for_messages(address)[0]
    bounce_to = email.message_from_bytes(delivered)["Return-Path"].strip("<> ")
    warning = (
        "This is just a warning, you do not need to take any action.\n\n"
        f"Your message to:\n  {address}\nhas not yet been delivered because the recipient "
        "server did not respond. We will continue to attempt delivery for 5 days.\n"
    )
    give_up = (
        "Your message could not be delivered for 5 days to the following recipient\n"
        f"and has been returned:\n\n  <{address}>\n\nThe destination server did not respond.\n"
    )
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.sendmail(
            "", [bounce_to], _text_notice(bounce_to, "Mail Delivery Warning", warning, delivered)
        )
    wait(lambda: len(relay.json("bounces", "list")) == 1, 20, "the warning to be processed")
    assert relay.json("bounces", "list")[0]["kind"] == "delay"
    assert relay.recipients(to=address)[0]["status"] == "delivered"
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.sendmail(
            "", [bounce_to], _text_notice(bounce_to, "Delivery failure", give_up, delivered)
        )
    row = relay.wait_state(address, {"bounced"}, timeout=20)[0]
    assert row["reason"] == "expired", row
