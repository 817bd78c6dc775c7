"""Issue 9 item 2: nobody blocks or bounces a customer with a forged report.

A report takes effect only when it carries a reference the relay signed for that recipient (the
bounce address, the X-Report-Ref header of the recipient's copy, an optional kind's
List-Unsubscribe). A report that only quotes a Message-ID, which anyone can guess, is stored and
shown as unverified, and changes nothing; the same report received twice counts once.

Real parts: `relay serve`, Postfix as the customers' MX (it delivers, and sends its own DSNs to
the signed bounce address, which the rig routes to the relay's bounce listener), reports sent
to the listener over SMTP (smtplib), nsd and Mail::DKIM for the signature. Duplicate detection
runs on both store backends (and two copies at once: tests/test_store_races.py).
"""

from __future__ import annotations

import email
import re
import smtplib

import pytest

from tests.harness import SHOP_SENDER, RelayProcess, queue_id, swaks, wait
from tests.keys_in_dns import publish_keys, stored_message, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

COMPLAINTS = "fbl@relay.example.net"
GUESSABLE = "<order-9001@shop.example.com>"  # a shop's Message-ID: order number and domain


def _send(
    relay: RelayProcess, to: str, kind: str = "dunning", order: str = "9001", *extra: str
) -> str:
    """The shop's message for an order, with the Message-ID its software makes."""
    done = swaks(
        relay.submission_port,
        *("--from", SHOP_SENDER, "--to", to, "--header-From", SHOP_SENDER),
        *("--header-Message-Id", f"<order-{order}@shop.example.com>"),
        *("--header", f"X-Relay-Kind: {kind}", "--header", f"X-Relay-Order: {order}"),
        *[arg for header in extra for arg in ("--header", header)],
    )
    return queue_id(done.stdout)


def _report(relay: RelayProcess, raw: bytes, rcpt: str = COMPLAINTS) -> dict:
    """Hand a report to the bounce listener; the stored report once it is processed."""
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.sendmail("", [rcpt], raw)
    latest: dict = {}

    def processed() -> bool:
        nonlocal latest
        found = relay.json("bounces", "list")
        latest = found[0] if found else {}
        return bool(found) and latest["status"] != "new"

    wait(processed, 20, "the report to be processed")
    return latest


def _arf(original: bytes, complainer: str) -> bytes:
    """An ARF report (RFC 5965) as a mailbox provider sends it, the original attached."""
    return (
        (
            "From: fbl@mailbox-provider.example.org\r\nTo: fbl@relay.example.net\r\n"
            "Subject: Abuse report\r\nMIME-Version: 1.0\r\nMessage-ID: <fbl-1@example.org>\r\n"
            "Content-Type: multipart/report; report-type=feedback-report;"
            ' boundary="arf"\r\n'
            "\r\n--arf\r\nContent-Type: text/plain\r\n\r\nThis is a spam complaint.\r\n"
            "--arf\r\nContent-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
            f"Original-Rcpt-To: <{complainer}>\r\nSource-IP: 127.0.0.1\r\n\r\n"
            "--arf\r\nContent-Type: message/rfc822\r\n\r\n"
        ).encode()
        + original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        + b"\r\n--arf--\r\n"
    )


def _dsn(failed: str, quoted: bytes, diagnostic: str = "550 5.1.1 user unknown") -> bytes:
    """A DSN (RFC 3464) saying `failed` does not exist, with the quoted headers."""
    return (
        (
            "From: MAILER-DAEMON@mx.example.org\r\nTo: fbl@relay.example.net\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;"
            ' boundary="dsn"\r\n'
            "\r\n--dsn\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.org\r\n\r\n"
            f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
            "--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        ).encode()
        + quoted
        + b"\r\n--dsn--\r\n"
    )


def _what_a_stranger_knows(to: str) -> bytes:
    """The headers someone who never saw the message can write: no signed reference."""
    return (
        f"From: Mein Shop <info@shop.example.com>\r\nTo: {to}\r\nSubject: Mahnung\r\n"
        f"Message-ID: {GUESSABLE}\r\n\r\nZahlen Sie.\r\n"
    ).encode()


def _without(message: bytes, *names_: str) -> bytes:
    """The message with some header fields taken out (a provider that drops them)."""
    message = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, _, body = message.partition(b"\r\n\r\n")
    drop = tuple(n.lower().encode() + b":" for n in names_)
    kept, skipping = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(drop)
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def _blocked(relay: RelayProcess) -> set[str]:
    return {b["address"] for b in relay.json("blocks", "list")}


def _events(relay: RelayProcess, queue_id: str) -> list[dict]:
    return relay.json("message", "show", queue_id)["events"]


def _delivered(relay: RelayProcess, postfix: PostfixRig, to: str, **send: str) -> tuple:
    queue_id = _send(relay, to, **send)
    relay.wait_state(to, {"delivered"})
    return queue_id, postfix.wait_for_messages(to)[-1]


def test_forged_complaint_quoting_a_real_message_id_changes_nothing(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    customer = f"victim@{names.CUSTOMER_DOMAIN}"
    queue_id, _ = _delivered(relay, postfix, customer)
    report = _report(relay, _arf(_what_a_stranger_knows(customer), customer))
    assert (report["kind"], report["status"]) == ("complaint", "unverified"), report
    assert "unverified complaint about" in report["parsed"]["effect"]
    assert "nothing changed" in report["parsed"]["effect"]
    assert customer not in _blocked(relay)
    assert relay.recipients(to=customer)[0]["status"] == "delivered"
    events = _events(relay, queue_id)
    assert not [e for e in events if e["kind"] in ("complained", "blocked", "bounced")]
    [shown] = [e for e in events if e["kind"] == "report"]  # shown in the message's history
    assert shown["detail"]["verified"] is False
    assert shown["detail"]["claimed"] == "spam complaint (abuse)"
    assert [r["id"] for r in relay.json("bounces", "list", "--unverified")] == [report["id"]]
    # The next message to the customer goes out: nobody blocked them.
    _delivered(relay, postfix, customer, order="9002")


def test_forged_bounce_quoting_a_real_message_id_changes_nothing(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    customer = f"victim2@{names.CUSTOMER_DOMAIN}"
    queue_id, _ = _delivered(relay, postfix, customer)
    report = _report(relay, _dsn(customer, _what_a_stranger_knows(customer)))
    assert (report["kind"], report["status"]) == ("bounce", "unverified"), report
    assert customer not in _blocked(relay)  # 5.1.1 would block a proven dead address
    row = relay.recipients(to=customer)[0]
    assert (row["status"], row["reason"]) == ("delivered", None), row
    [shown] = [e for e in _events(relay, queue_id) if e["kind"] == "report"]
    assert shown["detail"]["claimed"] == "failed 5.1.1 userunknown"


def test_a_token_from_one_message_does_not_verify_a_report_about_another(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    """A customer knows its own signed references; quoting one about somebody else's message
    still proves only the customer's own recipient row."""
    mine = f"insider@{names.CUSTOMER_DOMAIN}"
    other = f"victim3@{names.CUSTOMER_DOMAIN}"
    _delivered(relay, postfix, other, order="9003")
    _, copy = _delivered(relay, postfix, mine, order="9004")
    ref = email.message_from_bytes(copy)["X-Report-Ref"]
    forged = _what_a_stranger_knows(other).replace(
        b"Message-ID: <order-9001@", b"Message-ID: <order-9003@"
    )
    forged = f"X-Report-Ref: {ref}\r\n".encode() + forged
    report = _report(relay, _arf(forged, other))
    assert report["status"] == "matched"  # proven: the insider's own row, not the victim's
    assert other not in _blocked(relay)
    assert relay.recipients(to=other)[0]["status"] == "delivered"


def test_genuine_complaint_carrying_the_signed_header_blocks(
    relay: RelayProcess, postfix: PostfixRig, nsd: NsdServer
) -> None:
    customer = f"angry@{names.CUSTOMER_DOMAIN}"
    queue_id, copy = _delivered(relay, postfix, customer)
    # Each recipient's copy carries its own reference, signed by the DKIM signature.
    publish_keys(nsd, relay)
    sent = stored_message(relay, queue_id, customer)
    assert re.search(rb"\r\nX-Report-Ref: [0-9a-f]+-[a-z2-7]{16}\r\n", sent)
    result = verify_dkim(sent, nsd.nameserver)[0]
    assert result.startswith("pass") and "x-report-ref" in result.lower(), result
    # The provider's report quotes the message without Return-Path or Delivered-To: the
    # signed header alone proves it.
    original = _without(copy, "Return-Path", "Delivered-To")
    head = original.split(b"\r\n\r\n")[0]
    assert not re.search(rb"b-[a-z2-7]{29}@", head, re.IGNORECASE), head
    report = _report(relay, _arf(original, customer))
    assert (report["kind"], report["status"]) == ("complaint", "matched"), report
    assert report["parsed"]["matched_by"] == "report-ref"
    assert customer in _blocked(relay)
    assert relay.recipients(to=customer)[0]["status"] == "delivered"  # plus the event
    assert [e for e in _events(relay, queue_id) if e["kind"] == "complained"]


def test_genuine_complaint_about_an_optional_kind_verifies_by_list_unsubscribe(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    customer = f"unhappy@{names.CUSTOMER_DOMAIN}"
    _, copy = _delivered(relay, postfix, customer, kind="refund", order="9005")
    original = _without(copy, "Return-Path", "Delivered-To", "X-Report-Ref")
    assert b"List-Unsubscribe:" in original
    report = _report(relay, _arf(original, customer))
    assert (report["status"], report["parsed"]["matched_by"]) == ("matched", "list-unsubscribe")
    assert customer in _blocked(relay)


@pytest.mark.backends("sqlite", "postgresql")
def test_postfix_dsn_bounces_and_the_same_dsn_again_counts_once(
    relay: RelayProcess,
) -> None:
    address = names.LATER_UNKNOWN
    queue_id = _send(relay, address, order="9006")
    relay.wait_state(address, {"bounced"}, timeout=40)  # Postfix's own DSN, to b-<token>@
    [genuine] = relay.json("bounces", "list")
    assert (genuine["status"], genuine["parsed"]["matched_by"]) == ("matched", "bounce-address")
    assert address in _blocked(relay)
    # The reporting MTA sends it again (its 250 got lost): stored, and counted once.
    (stored,) = relay.query("SELECT raw, rcpt_to FROM reports WHERE id = ?", genuine["id"])
    raw, rcpt = stored["raw"], stored["rcpt_to"]
    to = re.search(r"b-[a-z2-7]+@[\w.]+", rcpt).group(0)  # type: ignore[union-attr]
    again = _report(relay, bytes(raw), rcpt=to)
    assert again["status"] == "duplicate", again
    assert f"the same as report {genuine['id']}" in again["parsed"]["effect"]
    # A different report about the same recipient still counts (an event; the state stays).
    different = bytes(raw).replace(b"5.1.1", b"5.1.6").replace(b"550 ", b"551 ")
    other = _report(relay, different, rcpt=to)
    assert other["status"] == "matched", other
    kinds = [e["kind"] for e in _events(relay, queue_id)]
    assert kinds.count("bounced") == 1, kinds
    assert kinds.count("report") == 1, kinds  # the different one, not the repeat


def test_only_the_relay_writes_the_report_reference(relay: RelayProcess) -> None:
    """A shop's own X-Report-Ref is dropped; each recipient's copy has exactly the relay's."""
    first, second = (f"{n}@{names.CUSTOMER_DOMAIN}" for n in ("ann", "ben"))
    forged = "X-Report-Ref: 18f0000000abc-aaaaaaaaaaaaaaaa"
    queue_id = _send(relay, f"{first},{second}", "dunning", "9007", forged)
    refs = []
    for address in (first, second):
        copy = email.message_from_bytes(stored_message(relay, queue_id, address))
        assert len(copy.get_all("X-Report-Ref")) == 1
        refs.append(copy["X-Report-Ref"])
        assert not [k for k in copy if k.lower().startswith("x-relay")]  # SPEC: none leave
    assert forged.split(": ")[1] not in refs
    assert refs[0] != refs[1] and all(r.startswith(queue_id.lower() + "-") for r in refs)
