"""`GET /api/v1/suppressions` on a real HTTP listener (tests/console_app.py): the blocks of
the shop's own customers however their addresses were cased, and every opt-out, newest first,
in pages with a cursor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from relay.store.suppression import add_block
from tests.console_app import SHOP_A, Console, cli, running_console

CAPITALS = "Max.Mustermann@example.org"


def _get(console: Console, path: str) -> Any:
    token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))["token"]
    answer = console.client().get(path, {"Authorization": f"Bearer {token}"})
    assert answer.status == 200, answer.text
    return json.loads(answer.text)


def test_a_blocked_customer_with_capitals_shows_in_the_shops_suppressions(tmp_path: Path) -> None:
    """Review 3: `blocks_seen_by` joined the lower-cased block to `recipients.address` as
    stored, so the API's suppressions and the console's problems page never showed the shop
    that its customer `Max.Mustermann@...` is blocked, although the block stops its mail."""
    with running_console(tmp_path) as console:
        console.submit(SHOP_A, CAPITALS, kind="payment-reminder", order="A-4711")
        with console.db.transaction() as tx:
            add_block(tx, CAPITALS, "complaint", "arf")
        blocked = [b["address"] for b in _get(console, "/api/v1/suppressions")["blocks"]]
        assert blocked == [CAPITALS.lower()]
