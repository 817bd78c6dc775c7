"""Review 3: a test e-mail (console design page, `relay test-email`) is filed under the
shop's real order 10023 and is escalated like customer mail.

`sample_request` (relay/actions/test_email.py) gives every test the sample envelope's order
number, "10023" (relay/render/samples.json), and the message is stored with it as
X-Relay-Order. Five-digit order numbers are what most shop systems have, so the test shows up
in the history of a real customer's order: in `GET /api/v1/orders/10023/messages` (what the
shop's software shows next to the order) and on the console's order page. And since the store
does not look at `messages.test` when it escalates (relay/store/outcomes.py), a test of a
mandatory kind (the default, payment-reminder) that cannot be delivered opens a problem:
"reach the customer another way (by post)" for order 10023.
"""

from __future__ import annotations

import json
from pathlib import Path

from relay.store.suppression import add_block
from tests.console_app import PASSWORD_A, SHOP_A, cli, running_console

STAFF = "inhaber@shop.example.com"


def _api(console, path: str) -> dict:  # type: ignore[no-untyped-def]
    token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))["token"]
    answer = console.client().get(path, {"Authorization": f"Bearer {token}"})
    assert answer.status == 200, answer.text
    return json.loads(answer.text)


def _console_test_email(console, to: str) -> None:  # type: ignore[no-untyped-def]
    client = console.client()
    assert client.login(SHOP_A, PASSWORD_A).status == 303
    sent = client.post(
        "/console/design/test-email",
        {"csrf": client.token("/console/design"), "to": to, "kind": "payment-reminder"},
    )
    assert sent.status == 303, sent.text[:300]


def test_a_test_email_is_not_in_a_customers_order(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        real = console.submit(SHOP_A, "kunde@example.org", kind="payment-reminder", order="10023")
        _console_test_email(console, STAFF)
        order = _api(console, "/api/v1/orders/10023/messages")
        assert [m["id"] for m in order["messages"]] == [real]


def test_a_test_email_that_cannot_be_delivered_opens_no_problem(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        with console.db.transaction() as tx:
            add_block(tx, STAFF, "complaint", "arf")
        _console_test_email(console, STAFF)  # suppressed: the address is blocked
        assert _api(console, "/api/v1/problems")["problems"] == []
