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
