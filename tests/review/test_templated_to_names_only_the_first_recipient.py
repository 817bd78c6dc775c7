"""Review finding: an `X-Relay-Template` message without a To header goes to every envelope
recipient with `To:` naming only the first.

README ("Mail the relay writes") and relay/prepare/templated.py both say To is the submitted To
header "or the envelope recipients when there is none"; `_envelope()` takes `rcpt_tos[0]` and
nothing else. So the second customer gets a payment reminder addressed to somebody else, whose
address it discloses, and never sees its own (the API's `compose()` lists every recipient).
Found live: swaks to alice@example.org,bob@example.net; bob's copy says `To: alice@example.org`.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from relay.render import sample_data
from tests.shop_submit import shop_database, submit


def test_without_a_to_header_every_envelope_recipient_is_in_to(tmp_path: Path) -> None:
    db, settings = shop_database(tmp_path)
    body = json.dumps({"data": sample_data("payment-reminder", "de")}).encode()
    message = (
        b"From: info@shop.example.com\r\nX-Relay-Template: payment-reminder\r\n"
        b"X-Relay-Order: 3001\r\nContent-Type: application/json\r\n\r\n" + body + b"\r\n"
    )
    prepared = submit(db, settings, message, ["alice@example.org", "bob@example.net"])
    sent = email.message_from_bytes(bytes(prepared.body), policy=email.policy.default)
    to = {address.addr_spec for address in sent["To"].addresses}
    assert to == {"alice@example.org", "bob@example.net"}, sent["To"]
