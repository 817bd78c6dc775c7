"""Issue 11 acceptance, the API's sending half, on real parts: the relay started by the
harness, Postfix as the customers' MX, nsd with the shop's DKIM key, Mail::DKIM to verify.

A shop's software sends a raw message through `POST /api/v1/messages`; it reaches Postfix
signed; `GET /orders/{order}/messages` shows it delivered in the shop's words; a retried POST
with the same `Idempotency-Key` sends nothing twice; every refusal is a problem+json. Sending,
idempotency under concurrent retries and the token check run on both store backends."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api_client import Api, api_for, raw_message
from tests.harness import RelayProcess
from tests.keys_in_dns import publish_keys, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig


@pytest.mark.backends("sqlite", "postgresql")
def test_a_raw_message_reaches_the_customer_signed_and_the_order_shows_it(
    relay: RelayProcess, postfix: PostfixRig, nsd: NsdServer
) -> None:
    publish_keys(nsd, relay, "mein-shop")
    relay.run("dns", "check", "mein-shop")
    api = api_for(relay)
    sent = api.post(
        "/api/v1/messages", {"raw": raw_message(names.CUSTOMER), "to": [names.CUSTOMER]}
    )
    assert sent.status == 202, sent.answer
    accepted = sent.json
    assert sent.answer_headers["Location"] == f"/api/v1/messages/{accepted['id']}"
    assert [(r["address"], r["state"]) for r in accepted["recipients"]] == [
        (names.CUSTOMER, "queued")
    ]
    assert accepted["recipients"][0]["text"] == "wartet auf den Versand"  # the shop speaks de
    received = postfix.wait_for_messages(names.CUSTOMER)[0]
    assert b"X-Relay-" not in received
    results = verify_dkim(received, nsd.nameserver)
    assert any(r.startswith("pass") and "d=shop.example.com" in r for r in results), results
    relay.wait_state(names.CUSTOMER, {"delivered"})
    order = api.get("/api/v1/orders/1001/messages")
    assert order.status == 200
    (message,) = order.json["messages"]
    assert message["id"] == accepted["id"] and message["kind"] == "payment-info"
    assert message["kind_text"] == "Zahlungsinformationen"
    (recipient,) = message["recipients"]
    assert (recipient["state"], recipient["text"]) == ("delivered", "zugestellt")
    assert recipient["attempts"][0]["code"] == 250
    english = api.get("/api/v1/orders/1001/messages?language=en").json
    assert english["messages"][0]["recipients"][0]["text"] == "delivered"
    one = api.get(f"/api/v1/messages/{accepted['id']}").json
    assert [e["kind"] for e in one["events"]][:1] == ["accepted"]
    assert "delivered" in [e["kind"] for e in one["events"]]


def test_a_retried_post_with_the_same_idempotency_key_sends_nothing_twice(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    api = api_for(relay)
    to = f"idem@{names.CUSTOMER_DOMAIN}"
    body = {"raw": raw_message(to, order="2002"), "to": [to]}
    key = {"Idempotency-Key": "order-2002-payment-info"}
    first = api.post("/api/v1/messages", body, headers=key)
    again = api.post("/api/v1/messages", body, headers=key)
    assert (first.status, again.status) == (202, 202)
    assert again.json == first.json
    assert again.answer_headers.get("Idempotent-Replayed") == "true"
    other = api.post("/api/v1/messages", {**body, "raw": body["raw"] + "P.S.\n"}, headers=key)
    assert other.status == 422 and other.json["type"] == "/api/v1/errors/idempotency-key-reused"
    assert other.json["field"] == "Idempotency-Key"
    relay.wait_state(to, {"delivered"})
    time.sleep(1.0)  # a second copy, had one been queued, would arrive by now
    assert len(postfix.maildir_messages(to)) == 1
    assert len(relay.recipients(order="2002")) == 1
    # Another shop may use the same key for its own message.
    relay.add_shop("zweiter-shop", "bare-shop.example.com")
    theirs = api_for(relay, "zweiter-shop")
    mine = raw_message(to, order="2002", sender="info@bare-shop.example.com")
    assert theirs.post("/api/v1/messages", {"raw": mine, "to": [to]}, headers=key).status == 202


@pytest.mark.backends("sqlite", "postgresql")
def test_concurrent_retries_with_one_key_store_one_message(relay: RelayProcess) -> None:
    """Five copies of one request at once (a client that retries on a timeout while the first
    is still being answered): one message; all five answers name it."""
    api = api_for(relay)
    to = f"race@{names.CUSTOMER_DOMAIN}"
    body = {"raw": raw_message(to, order="3003"), "to": [to]}
    with ThreadPoolExecutor(5) as pool:
        answers = list(
            pool.map(
                lambda _: api.post("/api/v1/messages", body, headers={"Idempotency-Key": "race"}),
                range(5),
            )
        )
    assert [a.status for a in answers] == [202] * 5, [a.answer for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert len(relay.recipients(order="3003")) == 1


def test_refusals_are_problems_with_the_field_and_the_smtp_words(relay: RelayProcess) -> None:
    api = api_for(relay)
    to = names.CUSTOMER

    def refused(body: object, status: int, kind: str, **kw: object):  # type: ignore[no-untyped-def]
        answer = api.post("/api/v1/messages", body, **kw)
        assert answer.status == status, answer.answer
        assert answer.content_type == "application/problem+json"
        assert answer.json["type"] == f"/api/v1/errors/{kind}" and answer.json["status"] == status
        return answer.json

    foreign = refused(
        {"raw": raw_message(to, sender="boss@other-shop.example.org"), "to": [to]}, 422, "refused"
    )
    assert foreign["smtp_reply"].startswith("550 5.7.1 From ")
    assert "boss@other-shop.example.org" in foreign["smtp_reply"]
    assert "does not belong to shop mein-shop" in foreign["detail"]
    typo = refused({"raw": raw_message(to, kind="dunnign"), "to": [to]}, 422, "refused")
    assert "Unknown X-Relay-Kind 'dunnign'" in typo["detail"]
    assert refused({"raw": "x", "to": []}, 422, "invalid-request")["field"] == "/to"
    assert refused({"raw": "x", "to": ["nope"]}, 422, "invalid-request")["field"] == "/to/0"
    assert refused({"to": [to]}, 422, "invalid-request")["field"] == "/template"
    assert refused({"raw": "x", "to": [to], "cc": 1}, 422, "invalid-request")["field"] == "/cc"
    refused(
        None, 400, "invalid-json", raw=b"{not json", headers={"Content-Type": "application/json"}
    )
    refused(
        None, 415, "unsupported-media-type", raw=b"raw=x", headers={"Content-Type": "text/plain"}
    )
    assert relay.recipients() == []  # nothing was queued by any of them


def test_bodies_are_size_capped(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory(
        {"http": {"api_max_body": "64KB"}, "submission": {"max_message_size": "20KB"}}
    ).start()
    api = api_for(relay)
    to = names.CUSTOMER
    big = api.post("/api/v1/messages", {"raw": raw_message(to, body="x" * 70_000), "to": [to]})
    assert big.status == 413 and big.json["type"] == "/api/v1/errors/body-too-large"
    message = raw_message(to, body="y" * 30_000)  # fits the body cap, not the message cap
    too_big = api.post("/api/v1/messages", {"raw": message, "to": [to]})
    assert too_big.status == 413 and too_big.json["type"] == "/api/v1/errors/message-too-large"
    chunked = api.call(
        "POST",
        "/api/v1/messages",
        raw=b"{" + b" " * 80_000 + b"}",
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert chunked.status == 413
    assert relay.recipients() == []


@pytest.mark.backends("sqlite", "postgresql")
def test_no_token_a_wrong_one_or_a_revoked_one_is_401(relay: RelayProcess) -> None:
    api = api_for(relay)
    assert api.get("/api/v1/problems").status == 200
    anonymous = Api(relay.http_port)
    for token in (None, "rly_aaaaaaaa_" + "A" * 43, api.token[:-1] + "x", "Basic abc"):
        answer = anonymous.get("/api/v1/problems", token=token)
        assert answer.status == 401 and answer.content_type == "application/problem+json"
        assert answer.answer_headers["WWW-Authenticate"].startswith('Bearer realm="relay"')
    listed = relay.json("shop", "token", "list", "mein-shop")
    relay.run("shop", "token", "revoke", "mein-shop", listed[0]["id"])
    assert api.get("/api/v1/problems").status == 401
    assert api.get("/api/v1/openapi.json", token="").status == 200  # the document is public
    # A removed shop's tokens stop at once, on the running relay.
    relay.add_shop("zweiter-shop", "bare-shop.example.com")
    theirs = api_for(relay, "zweiter-shop")
    assert theirs.get("/api/v1/problems").status == 200
    relay.run("shop", "remove", "zweiter-shop", "--yes")
    assert theirs.get("/api/v1/problems").status == 401


@pytest.mark.parametrize(
    ("store_backend", "render_workers"),
    [("sqlite", 0), ("sqlite", 1), ("postgresql", 0)],
    indirect=["store_backend"],
)
def test_a_templated_payment_reminder_reaches_the_customer_signed(
    relay_factory, postfix: PostfixRig, nsd: NsdServer, store_backend: str, render_workers: int
) -> None:  # type: ignore[no-untyped-def]
    """The templated way in (relay/compose.py), rendered in worker 0's thread or in a render
    process of its own; on PostgreSQL too (the render process does not touch the store)."""
    from relay.render import sample_data

    relay = relay_factory({"http": {"render_workers": render_workers}}).start()
    publish_keys(nsd, relay, "mein-shop")
    relay.run("dns", "check", "mein-shop")
    api = api_for(relay)
    to = f"vorlage@{names.CUSTOMER_DOMAIN}"
    data = sample_data("payment-reminder", "de")
    request = {"template": "payment-reminder", "to": [to], "order": "T-1", "data": data}
    sent = api.post("/api/v1/messages", request, headers={"Idempotency-Key": "t-1"})
    assert sent.status == 202, sent.answer
    assert sent.json["kind"] == "payment-reminder" and sent.json["order"] == "T-1"
    received = postfix.wait_for_messages(to)[0]
    results = verify_dkim(received, nsd.nameserver)
    assert any(r.startswith("pass") and "d=shop.example.com" in r for r in results), results
    assert b"multipart/alternative" in received and b"X-Relay-" not in received
    relay.wait_state(to, {"delivered"})
    (message,) = api.get("/api/v1/orders/T-1/messages").json["messages"]
    assert message["template"] and message["template"].startswith("payment-reminder/de")
    again = api.post("/api/v1/messages", request, headers={"Idempotency-Key": "t-1"})
    assert again.json["id"] == sent.json["id"]
    time.sleep(1.0)
    assert len(postfix.maildir_messages(to)) == 1
    missing = {**request, "data": {k: v for k, v in data.items() if k != "amount"}}
    refused = api.post("/api/v1/messages", missing)
    assert refused.status == 422 and refused.json["type"] == "/api/v1/errors/template"
    assert refused.json["variable"] == "amount" and refused.json["field"] == "/data/amount"
