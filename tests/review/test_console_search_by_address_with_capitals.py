"""Review 3: the console's order search by customer address misses every address that has a
capital letter in its local part.

Submission keeps the local part as written (`Max.Mustermann@example.org`: RFC 5321 §2.4 lets
the receiving side decide its case) and stores it so in `recipients.address`. The search
(relay/store/orders.py `orders_to`, "exact, case-insensitive") lower-cases what the shop types
and compares with `r.address = ?`: the stored `Max.Mustermann@...` never equals
`max.mustermann@...`, so the shop's staff, pasting the address from their shop system, are
told there is no such order. Addresses as customers type them into shop forms carry capitals
often.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console_app import PASSWORD_A, SHOP_A, running_console

ADDRESS = "Max.Mustermann@example.org"


@pytest.mark.parametrize("typed", [ADDRESS, ADDRESS.lower()])
def test_an_order_is_found_by_its_customers_address_however_it_is_cased(
    tmp_path: Path, typed: str
) -> None:
    with running_console(tmp_path) as console:
        console.submit(SHOP_A, ADDRESS, kind="payment-reminder", order="A-4711")
        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        by_number = client.get("/console/orders?q=A-4711")
        assert "A-4711" in by_number.text  # the order is there
        by_address = client.get(f"/console/orders?q={typed}")
        assert by_address.status == 200
        assert "A-4711" in by_address.text


def test_a_blocked_customer_with_capitals_shows_in_the_shops_suppressions(tmp_path: Path) -> None:
    """Same root: `blocks_seen_by` (relay/store/suppression.py) joins the lower-cased block
    to `recipients.address` as stored, so `GET /api/v1/suppressions` and the console's problems
    page never show the shop that its customer `Max.Mustermann@...` is blocked (a complaint, a
    dead address), although the block stops that shop's mail to him."""
    import json

    from relay.store.suppression import add_block
    from tests.console_app import cli

    with running_console(tmp_path) as console:
        console.submit(SHOP_A, ADDRESS, kind="payment-reminder", order="A-4711")
        with console.db.transaction() as tx:
            add_block(tx, ADDRESS, "complaint", "arf")
        token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))["token"]
        client = console.client()
        answer = client.get("/api/v1/suppressions", {"Authorization": f"Bearer {token}"})
        assert answer.status == 200
        blocked = [b["address"] for b in json.loads(answer.text)["blocks"]]
        assert blocked == [ADDRESS.lower()]
