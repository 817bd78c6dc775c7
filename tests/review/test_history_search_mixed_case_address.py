"""`relay messages --to ADDRESS` finds nothing for a customer whose local part has capitals.

The recipient row keeps the local part as the shop wrote it (`Max.Mustermann@example.com`,
email-validator lower-cases only the domain), while `history(to=...)` compares the row with
the search term lower-cased. So the row is found neither by the address as written nor in
lower case: a shop looking up what happened to its customer's mail sees "(none)".
"""

from __future__ import annotations

from tests.harness import RelayProcess, submit
from tests.rig.postfix import PostfixRig

CUSTOMER = "Max.Mustermann@shop-customers.example.com"


def test_history_finds_a_recipient_written_with_capitals(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    qid = submit(relay, CUSTOMER, "X-Relay-Kind: payment-info", "X-Relay-Order: 4711")
    order_rows = relay.recipients(order="4711")
    assert [r["message"] for r in order_rows] == [qid]  # the message is in the history

    as_written = relay.recipients(to=CUSTOMER)
    lower_case = relay.recipients(to=CUSTOMER.lower())
    assert [r["message"] for r in as_written] == [qid], order_rows[0]["recipient"]
    assert [r["message"] for r in lower_case] == [qid]
