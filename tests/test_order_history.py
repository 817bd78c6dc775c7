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


def test_history_finds_a_recipient_written_with_capitals(relay: RelayProcess) -> None:
    """Rows keep the local part as the shop wrote it (email-validator lowers only the
    domain): `relay messages --to` finds them whatever case the search is written in."""
    customer = f"Max.Mustermann@{names.CUSTOMER_DOMAIN}"
    qid = submit(relay, customer, "X-Relay-Kind: payment-info", "X-Relay-Order: 4711")
    order_rows = relay.recipients(order="4711")
    assert [r["message"] for r in order_rows] == [qid]  # the message is in the history

    as_written = relay.recipients(to=customer)
    lower_case = relay.recipients(to=customer.lower())
    assert [r["message"] for r in as_written] == [qid], order_rows[0]["recipient"]
    assert [r["message"] for r in lower_case] == [qid]
    assert [r["message"] for r in relay.recipients(to=customer.upper())] == [qid]
    assert relay.recipients(to=f"max.muster@{names.CUSTOMER_DOMAIN}") == []  # still exact


def test_a_deferral_without_any_server_reply_shows_no_smtp_code(relay: RelayProcess) -> None:
    """README ("Retries", issue 14): a reply the relay made up (a refused connection, DNS) is
    shown without an SMTP code, which only a server sends; `relay message show` and the
    history's words (`relay messages`, the console, the API) alike."""
    dead_mx = f"max@{names.DEAD_MX_DOMAIN}"  # its only MX refuses connections
    submit(relay, dead_mx, "X-Relay-Kind: payment-info")
    row = relay.wait_state(dead_mx, {"deferred"})[0]
    words = row["explanation"]
    assert "connection refused" in words  # the relay's own finding, in its own words
    assert "451" not in words and "4.4.1" not in words, words
    shown = relay.json("message", "show", row["message"])["recipients"][0]["explanation"]
    assert "connection refused" in shown and "4.4.1" not in shown, shown
