"""The order history reads like the e-mail section of an order page, in a merchant's words."""

from __future__ import annotations

import pytest

from tests.harness import RelayProcess, submit
from tests.rig import names

# The end-to-end flows run on both store backends (tests/conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgresql")


def _send(relay: RelayProcess, to: str, kind: str) -> str:
    headers = (f"X-Relay-Kind: {kind}", "X-Relay-Order: 4711", "Subject: Ihre Bestellung 4711")
    return submit(relay, to, *headers, body="Guten Tag")


def test_order_history_rows_and_message_detail(relay: RelayProcess) -> None:
    relay.run("blocks", "add", f"blocked@{names.CUSTOMER_DOMAIN}")
    delivered = _send(relay, names.CUSTOMER, "payment-info")
    _send(relay, names.UNKNOWN_USER, "payment-reminder")
    _send(relay, f"blocked@{names.CUSTOMER_DOMAIN}", "dunning")
    relay.wait_state(names.CUSTOMER, {"delivered"})
    relay.wait_state(names.UNKNOWN_USER, {"bounced"})
    rows = {r["recipient"]: r for r in relay.recipients(shop="mein-shop", order="4711")}
    assert rows[names.CUSTOMER]["explanation"] == (
        "delivered; sent from the relay's address because your domain is not set up (SPF/DKIM)"
    )
    assert rows[names.UNKNOWN_USER]["explanation"] == (
        "rejected by the recipient's server: mailbox does not exist (550 5.1.1)"
    )
    assert rows[f"blocked@{names.CUSTOMER_DOMAIN}"]["explanation"].startswith(
        "not sent: address blocked"
    )
    assert {r["subject"] for r in rows.values()} == {"Ihre Bestellung 4711"}
    table = relay.run("messages", "--shop", "mein-shop", "--order", "4711").stdout
    assert "mailbox does not exist (550 5.1.1)" in table and "payment-reminder" in table
    detail = relay.json("message", "show", delivered)
    assert "Subject: Ihre Bestellung 4711" in detail["headers"]
    assert detail["text"].strip() == "Guten Tag"
    assert [e["kind"] for e in detail["events"]][:2] == ["accepted", "warning"]
    assert "delivered" in [e["kind"] for e in detail["events"]]
