"""Review 3: `PUT /api/v1/webhooks` answers a DNS outage with a permanent 422.

`check_url` (relay/webhooks/guard.py) turns DnsTemporary (SERVFAIL, timeout) into a UrlProblem
with code "dns", and relay/http/api/errors.py `from_action` maps every `webhook-url-*` code to
422 "The webhook URL is refused". RFC 9110 §15.5.21: 422 says the request itself cannot be
processed, and a shop's software (or its developer) takes the URL for wrong; the relay's own
resolver being down is a 503 with Retry-After, as the API answers other outages
("unavailable"). Here the relay's nameserver is 127.0.0.1:9, which answers nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.console_app import SHOP_A, cli, running_console


def test_a_webhook_url_that_cannot_be_resolved_now_is_a_503(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))["token"]
        answer = console.client().request(
            "PUT",
            "/api/v1/webhooks",
            json.dumps({"url": "https://hooks.example.com/relay"}).encode(),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        problem = json.loads(answer.text)
        assert "could not be resolved now" in problem["detail"]  # the outage, as the relay saw it
        assert answer.status == 503, problem
