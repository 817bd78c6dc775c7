"""What the OpenAPI document says is what the server does: every route of the running relay is
called, with good and bad requests, and each exchange is checked against
`/api/v1/openapi.json` by openapi-core (a maintained validator, not hand-written checks).
And a token reaches only its own shop: another shop's ids give 404 on every route, never 403,
and tokens never appear in the relay's log."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from relay.http.api.routes import ROUTES
from tests.api_client import Api, Exchange, api_for, raw_message
from tests.harness import RelayProcess
from tests.rig import names
from tests.webhook_receiver import Receiver

PROBLEM_JSON = "application/problem+json"
SECOND = ("zweiter-shop", "bare-shop.example.com")


def second_message(to: str, order: str = "1001") -> str:
    return raw_message(to, order=order, sender=f"info@{SECOND[1]}")


@pytest.fixture
def two_shops(relay_factory: Any) -> RelayProcess:
    extra = {"webhooks": {"allow_private": True}, "http": {"api_max_body": "256KB"}}
    relay = relay_factory(extra).start()
    relay.add_shop(*SECOND)
    return relay


def spec_of(api: Api) -> OpenAPI:
    document = api.get("/api/v1/openapi.json", token="").json
    config = Config(extra_media_type_deserializers={PROBLEM_JSON: json.loads})
    return OpenAPI.from_dict(document, config=config)


def mock(exchange: Exchange, port: int) -> tuple[MockRequest, MockResponse]:
    path, _, query = exchange.path.partition("?")
    args = dict(pair.split("=", 1) for pair in query.split("&") if pair)
    request = MockRequest(
        f"http://127.0.0.1:{port}",
        exchange.method.lower(),
        path,
        args=args,
        headers=exchange.headers,
        data=exchange.body or None,
        content_type=exchange.headers.get("Content-Type", "application/json"),
    )
    response = MockResponse(
        exchange.answer,
        status_code=exchange.status,
        headers=exchange.answer_headers,
        content_type=exchange.content_type or "application/json",
    )
    return request, response


def documented(exchange: Exchange) -> bool:
    path = exchange.path.partition("?")[0].removeprefix("/api/v1")
    for route in ROUTES:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$"
        if route.method == exchange.method and re.match(pattern, path):
            return True
    return False


async def _session(relay: RelayProcess) -> tuple[Api, list[Exchange]]:
    """Every route, with good requests and each kind of bad one."""
    api = api_for(relay)
    to, unknown = names.CUSTOMER, names.UNKNOWN_USER
    api.get("/api/v1/openapi.json", token="")
    key = {"Idempotency-Key": "k-1"}
    send = {"raw": raw_message(to), "to": [to]}
    sent = api.post("/api/v1/messages", send, headers=key)
    api.post("/api/v1/messages", send, headers=key)  # replayed
    api.post("/api/v1/messages", {**send, "raw": send["raw"] + "!"}, headers=key)  # 422 reused
    dunning = {"raw": raw_message(unknown, kind="dunning", order="D-1"), "to": [unknown]}
    api.post("/api/v1/messages", dunning)
    api.post("/api/v1/messages", {"template": "payment-reminder", "to": [to], "order": "7"})
    api.post("/api/v1/messages", {"raw": raw_message(to, sender="x@example.org"), "to": [to]})
    api.post("/api/v1/messages", {"raw": "x", "to": ["not an address"]})
    api.post("/api/v1/messages", raw=b"{", headers={"Content-Type": "application/json"})
    api.post("/api/v1/messages", raw=b"x", headers={"Content-Type": "text/plain"})
    api.post("/api/v1/messages", {"raw": "x" * 300_000, "to": [to]})  # over api_max_body
    api.post("/api/v1/messages", send, token="")
    relay.wait_state(to, {"delivered"})
    relay.wait_state(unknown, {"bounced"})
    mid = sent.json["id"]
    api.get(f"/api/v1/messages/{mid}")
    api.get(f"/api/v1/messages/{mid}?language=en")
    api.get("/api/v1/messages/NOSUCHID")
    api.get("/api/v1/orders/1001/messages")
    api.get("/api/v1/orders/no-such-order/messages")
    api.get("/api/v1/suppressions")
    api.get(f"/api/v1/suppressions?address={unknown}&language=en")
    api.get("/api/v1/suppressions?limit=1")
    api.get("/api/v1/suppressions?limit=0")  # 422
    api.get("/api/v1/webhooks")  # none yet: 404
    async with Receiver("whsec_" + "A" * 43) as hook:
        api.put("/api/v1/webhooks", {"url": hook.url})  # 201 with the secret
        api.put("/api/v1/webhooks", {"events": ["message.undeliverable"], "rotate_secret": True})
        api.put("/api/v1/webhooks", {"url": "http://169.254.169.254/latest"})  # 422 SSRF
        api.put("/api/v1/webhooks", {"url": hook.url, "events": ["message.nope"]})  # 422
        api.get("/api/v1/webhooks")
        api.call("DELETE", "/api/v1/webhooks")
        api.call("DELETE", "/api/v1/webhooks")  # 404
    problems = api.get("/api/v1/problems").json["problems"]
    api.get("/api/v1/problems?state=all&language=en")
    api.get("/api/v1/problems?state=closed")  # 422
    api.post(f"/api/v1/problems/{problems[0]['id']}/ack")
    api.post(f"/api/v1/problems/{problems[0]['id']}/ack")  # again: unchanged, 200
    api.post("/api/v1/problems/999999/ack")
    api.call("DELETE", "/api/v1/messages")  # 405, not in the document
    api.get("/api/v1/nowhere")  # 404, not in the document
    return api, list(api.log)


def test_every_exchange_matches_the_document(two_shops: RelayProcess) -> None:
    api, log = asyncio.run(_session(two_shops))
    spec = spec_of(api)
    statuses = set()
    for exchange in log:
        statuses.add(exchange.status)
        assert exchange.content_type in ("application/json", PROBLEM_JSON, ""), exchange
        if exchange.status >= 400:
            assert exchange.content_type == PROBLEM_JSON, exchange
        if not documented(exchange):
            assert exchange.status in (404, 405), exchange
            continue
        request, response = mock(exchange, two_shops.http_port)
        spec.validate_response(request, response)  # raises with what is wrong
        if exchange.status < 300:
            spec.validate_request(request)
        if exchange.status in (400, 401, 415) or (
            exchange.status == 422 and exchange.json["type"].endswith("/invalid-request")
        ):
            with pytest.raises(Exception):  # noqa: B017 - any of openapi-core's errors
                spec.validate_request(request)  # the document refuses what the server refuses
    assert {200, 201, 202, 204, 400, 401, 404, 405, 413, 415, 422} <= statuses
    # Every documented operation was called and answered as documented.
    paths = api.get("/api/v1/openapi.json", token="").json["paths"]
    documented_operations = {(m.upper(), p) for p, item in paths.items() for m in item}
    called = {
        (r.method, "/api/v1" + r.path)
        for r in ROUTES
        for e in log
        if e.method == r.method
        and re.match(
            "^" + re.sub(r"\{[^}]+\}", "[^/]+", "/api/v1" + r.path) + "$", e.path.partition("?")[0]
        )
    }
    assert called == documented_operations


def test_another_shops_ids_are_404_on_every_route(two_shops: RelayProcess) -> None:
    relay = two_shops
    mine, theirs = api_for(relay), api_for(relay, SECOND[0])
    to, unknown = names.CUSTOMER, names.UNKNOWN_USER
    sent = mine.post("/api/v1/messages", {"raw": raw_message(to), "to": [to]}).json
    dunning = {"raw": raw_message(unknown, kind="dunning", order="D-9"), "to": [unknown]}
    mine.post("/api/v1/messages", dunning)
    relay.wait_state(unknown, {"bounced"})
    (problem,) = mine.get("/api/v1/problems").json["problems"]
    assert mine.get("/api/v1/suppressions").json["blocks"][0]["address"] == unknown
    foreign = [
        theirs.get(f"/api/v1/messages/{sent['id']}"),
        theirs.get("/api/v1/orders/1001/messages"),
        theirs.get("/api/v1/orders/D-9/messages"),
        theirs.post(f"/api/v1/problems/{problem['id']}/ack"),
        theirs.get("/api/v1/webhooks"),
        theirs.call("DELETE", "/api/v1/webhooks"),
    ]
    assert [a.status for a in foreign] == [404] * len(foreign)
    assert {a.json["type"] for a in foreign} == {"/api/v1/errors/not-found"}
    # The 404 of an existing message of another shop reads as that of one that never existed.
    nothing = theirs.get("/api/v1/messages/NOSUCHID").json
    assert {k: v for k, v in foreign[0].json.items() if k != "detail"} == {
        k: v for k, v in nothing.items() if k != "detail"
    }
    assert theirs.get("/api/v1/problems?state=all").json == {"total": 0, "problems": []}
    assert theirs.get("/api/v1/suppressions").json == {"blocks": [], "optouts": [], "next": None}
    assert mine.get("/api/v1/problems").json["problems"][0]["open"]  # the ack did nothing
    # What the second shop sends is its own, and the first shop cannot see it either.
    own = theirs.post("/api/v1/messages", {"raw": second_message(to), "to": [to]}).json
    assert mine.get(f"/api/v1/messages/{own['id']}").status == 404
    assert [m["id"] for m in mine.get("/api/v1/orders/1001/messages").json["messages"]] == [
        sent["id"]
    ]


def test_tokens_never_reach_the_log(two_shops: RelayProcess) -> None:
    relay = two_shops
    api = api_for(relay)
    secret = api.token.split("_", 2)[2]
    assert api.get("/api/v1/problems").status == 200
    api.get(f"/api/v1/messages/{api.token}")  # a token pasted into a path by mistake
    api.get(f"/api/v1/problems?access_token={api.token}")
    api.get("/api/v1/problems", token=api.token[:-2] + "zz")  # a wrong one
    relay.run("shop", "token", "list", "mein-shop")
    relay.stop()
    log = relay.log.read_text()
    assert "/api/v1/problems" in log  # the access log is on
    assert secret not in log and secret[:16] not in log
    assert api.token[:12] + "_<redacted>" in log or "rly_<redacted>" in log
    stored = (relay.root / "var" / "relay.db").read_bytes()
    assert secret.encode() not in stored  # only its hash is kept


def test_hostile_bodies_and_inner_webhook_urls_are_refused(two_shops: RelayProcess) -> None:
    relay = two_shops
    api = api_for(relay)
    deep = api.post(
        "/api/v1/messages", raw=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert (deep.status, deep.json["type"]) == (400, "/api/v1/errors/invalid-json")
    control = api.post(
        "/api/v1/messages",
        {"raw": "x", "to": ["a@example.org"]},
        headers={"Idempotency-Key": "k" * 300},
    )
    assert control.status == 422 and control.json["field"] == "Idempotency-Key"
    inner = [
        "http://169.254.169.254/latest/meta-data/",  # metadata: refused even with allow_private
        f"http://127.0.0.1:{relay.http_port}/api/v1/problems",  # the relay's own listener
        f"http://127.0.0.1:{relay.submission_port}/",
        "file:///etc/passwd",
    ]
    for url in inner:
        answer = api.put("/api/v1/webhooks", {"url": url})
        assert answer.status == 422, (url, answer.json)
        assert (answer.json["type"], answer.json["field"]) == ("/api/v1/errors/webhook-url", "/url")
    assert api.get("/api/v1/webhooks").status == 404  # nothing was set
