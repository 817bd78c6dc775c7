"""Review 3: `GET /api/v1/suppressions` silently leaves out a shop's newest opt-outs (and
blocks) once it has more than 1,000.

relay/actions/suppressions.py `shop_suppressions` keeps `[:MAX_LIST]` of `list_optouts`, which
is ordered oldest first (relay/store/suppression.py; `blocks_seen_by` likewise ORDER BY
created_at LIMIT). The answer has no paging (no cursor, no `next`, no total) and the OpenAPI
document names no limit, so a shop's software that syncs its "do not mail" list from this route
never learns of a customer who opted out after the thousandth one: exactly the new ones it
must respect in its own mailings. The console's problems page shows the same list.
"""

from __future__ import annotations

import json
from pathlib import Path

from relay.store.sql import execute
from tests.console_app import SHOP_A, cli, running_console

OPTOUTS = 1001


def test_the_newest_opt_out_is_in_the_answer(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        with console.db.transaction() as tx:
            for n in range(OPTOUTS):  # oldest first; the last one is the newest
                execute(
                    tx,
                    "INSERT INTO optouts (shop, address, kind, created_at, source)"
                    " VALUES (?,?,?,?,?)",
                    (SHOP_A, f"kunde{n}@example.org", "refund", 1_700_000_000.0 + n, "one-click"),
                )
        token = json.loads(cli(console.root, "shop", "token", "create", SHOP_A, "--json"))["token"]
        answer = console.client().get("/api/v1/suppressions", {"Authorization": f"Bearer {token}"})
        assert answer.status == 200
        body = json.loads(answer.text)
        addresses = {o["address"] for o in body["optouts"]}
        newest = f"kunde{OPTOUTS - 1}@example.org"
        # Either every opt-out is listed, or the answer says how to get the rest.
        assert newest in addresses or any(k in body for k in ("next", "cursor", "total"))
