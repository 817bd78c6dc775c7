"""The caller's shop's routes (relay/http/api/shop.py) on a real HTTP listener
(tests/console_app.py): `GET /api/v1/suppressions` (the blocks of the shop's own customers
however their addresses were cased, every opt-out, newest first, in pages with a cursor) and
`PUT /api/v1/webhooks` while DNS is down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from relay.store.sql import execute
from relay.store.suppression import add_block
from tests.console_app import SHOP_A, SHOP_B, Console, cli, running_console

CAPITALS = "Max.Mustermann@example.org"
OPTOUTS = 1001
T0 = 1_700_000_000.0


def _token(console: Console, shop: str = SHOP_A) -> str:
    return json.loads(cli(console.root, "shop", "token", "create", shop, "--json"))["token"]


def _get(console: Console, path: str, token: str | None = None, status: int = 200) -> Any:
    headers = {"Authorization": f"Bearer {token or _token(console)}"}
    answer = console.client().get(path, headers)
    assert answer.status == status, answer.text
    return json.loads(answer.text)


def _optouts(console: Console, shop: str, count: int, at: float = T0) -> None:
    with console.db.transaction() as tx:
        for n in range(count):  # oldest first; the last one is the newest
            execute(
                tx,
                "INSERT INTO optouts (shop, address, kind, created_at, source) VALUES (?,?,?,?,?)",
                (shop, f"kunde{n}@example.org", "refund", at + n, "one-click"),
            )


def test_the_newest_opt_out_is_in_the_answer(tmp_path: Path) -> None:
    """Review 3: the answer kept the oldest 1,000 opt-outs and dropped the rest without a word:
    a shop's software syncing its "do not mail" list never learnt of the newest ones."""
    with running_console(tmp_path) as console:
        _optouts(console, SHOP_A, OPTOUTS)
        body = _get(console, "/api/v1/suppressions")
        addresses = {o["address"] for o in body["optouts"]}
        newest = f"kunde{OPTOUTS - 1}@example.org"
        # Either every opt-out is listed, or the answer says how to get the rest.
        assert newest in addresses or any(k in body for k in ("next", "cursor", "total"))
        assert body["optouts"][0]["address"] == newest  # newest first
        assert len(body["optouts"]) == 1000 and body["next"]
        rest = _get(console, f"/api/v1/suppressions?after={body['next']}")
        assert [o["address"] for o in rest["optouts"]] == ["kunde0@example.org"]
        assert rest["next"] is None


def test_pages_walk_both_lists_newest_first_to_the_end(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        _optouts(console, SHOP_A, 5)
        _optouts(console, SHOP_B, 3, at=T0 + 0.5)  # another shop's: never in A's pages
        for n in range(3):  # blocks of A's customers, one of them a customer of A only
            console.submit(SHOP_A, f"blocked{n}@example.org", kind="payment-reminder")
            with console.db.transaction() as tx:
                add_block(tx, f"blocked{n}@example.org", "userunknown", "report:1")
        token, seen_optouts, seen_blocks, after = _token(console), [], [], ""
        for _ in range(10):
            page = _get(console, f"/api/v1/suppressions?limit=2{after}", token)
            assert len(page["optouts"]) <= 2 and len(page["blocks"]) <= 2
            seen_optouts += [o["address"] for o in page["optouts"]]
            seen_blocks += [b["address"] for b in page["blocks"]]
            if page["next"] is None:
                break
            after = f"&after={page['next']}"
        assert seen_optouts == [f"kunde{n}@example.org" for n in (4, 3, 2, 1, 0)]
        assert seen_blocks == [f"blocked{n}@example.org" for n in (2, 1, 0)]


def test_a_cursor_or_limit_the_relay_did_not_give_is_422(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        token = _token(console)
        for query, field in (
            ("after=bm90IGEgY3Vyc29y", "after"),  # base64 of "not a cursor"
            ("after=" + "A" * 2000, "after"),
            ("after=eyJiIjpbMSwiYSJdLCJvIjoxfQ", "after"),  # {"b":[1,"a"],"o":1}
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=%C2%B2", "limit"),  # "²": a digit to str.isdigit, not to int()
        ):
            problem = _get(console, f"/api/v1/suppressions?{query}", token, status=422)
            assert problem["field"] == field, (query, problem)


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


def test_a_webhook_url_that_cannot_be_resolved_now_is_a_503(tmp_path: Path) -> None:
    """Review 3: the relay's own DNS outage was answered 422 "The webhook URL is refused", and
    a shop's software (or its developer) took the URL for wrong. RFC 9110 §15.5.21: 422 is for
    a request that cannot be processed; an outage is 503 with Retry-After. Here the relay's
    name server is 127.0.0.1:9, which answers nothing."""
    with running_console(tmp_path, nameserver="127.0.0.1:9") as console:
        answer = console.client().request(
            "PUT",
            "/api/v1/webhooks",
            json.dumps({"url": "https://hooks.example.com/relay"}).encode(),
            {"Authorization": f"Bearer {_token(console)}", "Content-Type": "application/json"},
        )
        problem = json.loads(answer.text)
        assert "could not be resolved now" in problem["detail"]  # the outage, as the relay saw it
        assert answer.status == 503, problem
        assert problem["type"] == "/api/v1/errors/unavailable" and problem["field"] == "/url"
        assert int(answer.headers["Retry-After"]) > 0
        assert _get(console, "/api/v1/webhooks", status=404)  # nothing was saved
