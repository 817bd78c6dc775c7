"""A shop's custom return path (issue 13 item 5), end to end on the rig: `relay dns check`
finds `bounces.shop.example.com` (a CNAME of the relay's bounce domain in tests/dns) usable and
stores it; the shop's mail then leaves with its envelope sender there, SPF passes for it (pyspf
against the test DNS) aligned with the From domain, a DSN that Postfix sends back to it reaches
the relay's bounce listener and bounces the right recipient, and SpamAssassin finds nothing
left to hold against the relay's part. The bounce listener takes a token at the shop's return
path only for mail that went out with it."""

from __future__ import annotations

import email
import email.policy
import smtplib
from pathlib import Path

from bounces.verp import bounce_address
from dns_checks.spf_eval import ResolverQuery
from relay.dns import DnspythonResolver
from relay.keys import load_secret
from tests.harness import SHOP, RelayProcess, submit
from tests.keys_in_dns import publish_keys, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig
from tests.test_templated_smtp import spam_points

SHOP_DOMAIN = names.SHOP_DOMAIN
RETURN_PATH = names.SHOP_RETURN_PATH


def checked_shop(relay: RelayProcess, nsd: NsdServer) -> dict:
    """The shop's DKIM key published and `relay dns check` run: verified, return path usable."""
    publish_keys(nsd, relay, SHOP)
    report = relay.json("dns", "check", SHOP)[0]
    assert report["verified"] is True, report
    assert report["return_path"] == RETURN_PATH, report
    return report


def envelope_sender(message: bytes) -> str:
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    return str(parsed["Return-Path"]).strip("<>")


def test_the_envelope_sender_is_at_the_shops_return_path_and_spf_passes_aligned(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig
) -> None:
    checked_shop(relay, nsd)
    submit(relay, names.CUSTOMER, "X-Relay-Kind: payment-info", "X-Relay-Order: RP-1",
           body="Ihre Rechnung RP-1 ist da.\r\nMit freundlichen Gruessen\r\nIhr Shop")  # fmt: skip
    relay.wait_state(names.CUSTOMER, {"delivered"})
    received = postfix.wait_for_messages(names.CUSTOMER)[0].replace(b"\n", b"\r\n")

    sender = envelope_sender(received)
    assert sender.startswith("b-") and sender.endswith("@" + RETURN_PATH), sender
    assert verify_dkim(received, nsd.nameserver)[0].startswith(f"pass d={SHOP_DOMAIN}")
    # SPF as the receiving server evaluates it (RFC 7208 4: check_host for the MAIL FROM
    # domain), by pyspf, against the test DNS: the CNAME brings the relay's SPF record.
    query = ResolverQuery(
        DnspythonResolver([nsd.nameserver]), i=names.SENDING_IP, s=sender, h=names.RELAY_HOST
    )
    result, _, explanation = query.check()
    assert result == "pass", explanation
    # DMARC's relaxed SPF alignment (RFC 7489 3.1.2): bounces.shop.example.com is under the
    # From domain's organizational domain.
    parsed = email.message_from_bytes(received, policy=email.policy.default)
    assert parsed["From"].addresses[0].domain == SHOP_DOMAIN
    assert sender.rpartition("@")[2].endswith("." + SHOP_DOMAIN)

    # SpamAssassin (local tests only) on the message as Postfix stored it, with its Received
    # line for the relay's hop: HEADER_FROM_DIFFERENT_DOMAINS is gone with the return path.
    score, points = spam_points(received)
    print(f"spamassassin -L (custom return path): score {score}, rules {points}")
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "custom-return-path.eml").write_bytes(received)
    assert "HEADER_FROM_DIFFERENT_DOMAINS" not in points, points
    assert {rule for rule, value in points.items() if value > 0} == set(), points
    assert score <= 0, points


def test_a_postfix_dsn_to_the_return_path_reaches_the_relay_and_bounces_the_recipient(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig
) -> None:
    checked_shop(relay, nsd)
    qid = submit(relay, names.MAILBOX_FULL, "X-Relay-Order: RP-2")
    row = relay.wait_state(names.MAILBOX_FULL, {"bounced"}, timeout=60)[0]
    assert row["message"] == qid and row["reason"] == "mailboxfull", row
    report = next(r for r in relay.json("bounces", "list") if r["recipient"] == row["recipient_id"])
    assert report["status"] == "matched" and report["kind"] == "bounce", report
    assert [to.rpartition("@")[2] for to in report["rcpt_to"]] == [RETURN_PATH], report


def test_a_shop_without_a_usable_return_path_keeps_the_relays_bounce_domain(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    """Not verified (no key published): the fallback identity, whose From is at the relay's
    domain, so the envelope stays at the relay's bounce domain too."""
    submit(relay, names.CUSTOMER, "X-Relay-Order: RP-3")
    relay.wait_state(names.CUSTOMER, {"delivered"})
    received = postfix.wait_for_messages(names.CUSTOMER)[0]
    assert envelope_sender(received).endswith("@" + names.BOUNCE_DOMAIN)


def rcpt(relay: RelayProcess, address: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=20) as client:
        client.ehlo("mx.example.org")
        client.mail("")
        code, text = client.rcpt(address)
    return code, text.decode(errors="replace")


def test_the_bounce_listener_takes_a_token_at_the_return_path_only_for_mail_sent_with_it(
    relay: RelayProcess, nsd: NsdServer, postfix: PostfixRig
) -> None:
    submit(relay, names.CUSTOMER, "X-Relay-Order: RP-4")  # before the check: relay's domain
    relay.wait_state(names.CUSTOMER, {"delivered"})
    checked_shop(relay, nsd)
    submit(relay, names.CUSTOMER, "X-Relay-Order: RP-5")  # after: the shop's return path
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=2)
    ids = {row["order_ref"]: row["recipient_id"] for row in relay.recipients(to=names.CUSTOMER)}
    secret = load_secret(relay.root / "var")

    def address(order: str, domain: str) -> str:
        return bounce_address(secret, ids[order], domain)

    assert rcpt(relay, address("RP-5", RETURN_PATH))[0] == 250
    assert rcpt(relay, address("RP-5", names.BOUNCE_DOMAIN))[0] == 250  # the relay's own
    assert rcpt(relay, address("RP-5", RETURN_PATH.upper()))[0] == 250  # domains ignore case
    # The token verifies, but this message went out from the relay's domain: refused.
    assert rcpt(relay, address("RP-4", RETURN_PATH))[0] == 550
    # Another shop's return path, or any other domain: refused, the token notwithstanding.
    assert rcpt(relay, address("RP-5", "bounces.bare-shop.example.com"))[0] == 550
    assert rcpt(relay, address("RP-5", "example.org"))[0] == 550
    forged = address("RP-5", RETURN_PATH).replace("b-", "b-a", 1)
    assert rcpt(relay, forged)[0] == 550
