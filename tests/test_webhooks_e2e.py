"""Issue 11 acceptance, the webhook half, on real parts: the relay started by the harness,
Postfix as the customers' MX (its DSNs come back to the relay's bounce listener), a real
aiohttp receiver on loopback verifying every request with `standardwebhooks`, a TCP blackhole.
The escalation of undeliverable mail runs on both store backends (the outbox's claim, lease,
retry and order per message with real receivers: tests/test_webhook_outbox.py, on both).
"""

from __future__ import annotations

import email
import re
import smtplib
import subprocess
import time
from typing import Any

import pytest

from tests.api_client import api_for, raw_message
from tests.harness import RelayProcess, submit
from tests.rig import names
from tests.rig.postfix import PostfixRig
from tests.rig.tools import free_port
from tests.test_bounce_flow import _arf
from tests.webhook_receiver import ReceiverThread, blackhole

HOOKS = {
    "webhooks": {
        "allow_private": True,  # the receivers are on 127.0.0.1
        "retry_schedule": "500ms, 1s, 1s, 2s",
        "timeout": "3s",
        "connect_timeout": "1s",
    }
}


def set_webhook(relay: RelayProcess, url: str, shop: str = "mein-shop") -> str:
    """The shop's endpoint, through the CLI; its signing secret."""
    return relay.json("shop", "webhook", shop, "--url", url)["secret"]


def send(relay: RelayProcess, to: str, kind: str, order: str) -> str:
    return submit(relay, to, f"X-Relay-Kind: {kind}", f"X-Relay-Order: {order}", body="Hallo")


def of_message(hook: ReceiverThread, event_type: str, message: str) -> list[Any]:
    return [p for p in hook.payloads(event_type) if p["data"].get("message_id") == message]


@pytest.fixture
def hooked(relay_factory: Any) -> RelayProcess:
    return relay_factory(HOOKS).start()


def test_every_outcome_arrives_signed(hooked: RelayProcess, postfix: PostfixRig) -> None:
    """delivered, bounced (a real Postfix DSN, later), complained (ARF), opted_out (the
    one-click POST), deferred: each POSTed and verified with standardwebhooks."""
    relay = hooked
    port = free_port()
    secret = set_webhook(relay, f"http://127.0.0.1:{port}/hook")
    with ReceiverThread(secret, port=port) as hook:
        delivered = send(relay, names.CUSTOMER, "payment-info", "W-1")
        bounced = send(relay, names.LATER_UNKNOWN, "payment-reminder", "W-2")
        optional = send(relay, f"eva@{names.CUSTOMER_DOMAIN}", "refund", "W-3")
        deferred = send(relay, names.BUSY, "payment-info", "W-4")
        hook.wait_for(lambda: of_message(hook, "message.delivered", delivered), what="delivered")
        hook.wait_for(lambda: of_message(hook, "message.bounced", bounced), 60, "the DSN bounce")
        hook.wait_for(lambda: of_message(hook, "message.deferred", deferred), what="deferred")
        complaint = postfix.wait_for_messages(names.CUSTOMER)[0]
        with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
            smtp.sendmail("", ["fbl@relay.example.net"], _arf(complaint, names.CUSTOMER))
        hook.wait_for(lambda: of_message(hook, "message.complained", delivered), what="ARF")
        relay.wait_state(f"eva@{names.CUSTOMER_DOMAIN}", {"delivered"})
        copy = postfix.wait_for_messages(f"eva@{names.CUSTOMER_DOMAIN}")[0]
        link = re.search(r"<(http[^>]+)>", email.message_from_bytes(copy)["List-Unsubscribe"])
        assert link is not None
        assert _one_click(link.group(1)) == "200"
        hook.wait_for(lambda: hook.payloads("recipient.opted_out"), what="the opt-out")
    assert all(r.error == "" for r in hook.received), [r.error for r in hook.received]
    dsn = of_message(hook, "message.bounced", bounced)[0]["data"]
    assert dsn["reason"] == "userunknown" and dsn["dsn"]["status"] == "5.1.1"
    assert dsn["order"] == "W-2" and dsn["mandatory"] is True
    (late,) = of_message(hook, "message.undeliverable", bounced)  # a reminder is mandatory
    assert late["data"]["action"]["code"] == "reach-customer-otherwise"
    complained = of_message(hook, "message.complained", delivered)[0]["data"]
    assert complained["complaint"] == {"feedback_type": "abuse", "blocked": True}
    opted = hook.payloads("recipient.opted_out")[0]["data"]
    assert (opted["recipient"], opted["kind"], opted["source"]) == (
        f"eva@{names.CUSTOMER_DOMAIN}",
        "refund",
        "one-click",
    )
    assert of_message(hook, "message.deferred", deferred)[0]["data"]["next_attempt_at"]
    assert of_message(hook, "message.delivered", optional)


def _one_click(url: str) -> str:
    done = subprocess.run(
        ["curl", "--noproxy", "*", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
         "-d", "List-Unsubscribe=One-Click", url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return done.stdout


def test_endpoint_down_then_up_and_kill_9_lose_nothing(
    relay_factory: Any, postfix: PostfixRig
) -> None:
    """The receiver is down while ten messages are delivered; the relay is killed (SIGKILL)
    with their events unsent; it starts again, the receiver comes up: every event arrives,
    and then a second kill in the middle of sending loses nothing either."""
    relay = relay_factory(HOOKS).start()
    port = free_port()
    secret = set_webhook(relay, f"http://127.0.0.1:{port}/hook")
    first = [
        send(relay, f"down{i}@{names.CUSTOMER_DOMAIN}", "payment-info", f"K-{i}") for i in range(10)
    ]
    for i in range(10):
        relay.wait_state(f"down{i}@{names.CUSTOMER_DOMAIN}", {"delivered"})
    time.sleep(1.5)  # the outbox has tried and failed (connection refused) by now
    backlog = relay.json("status")["webhooks"]
    assert backlog[0]["shop"] == "mein-shop" and backlog[0]["pending"] == 10, backlog
    assert "connection refused" in (backlog[0]["last_error"] or ""), backlog
    relay.kill()
    relay.start()
    with ReceiverThread(secret, port=port) as hook:
        hook.wait_for(lambda: _delivered(hook) >= set(first), 30, "every event of the outage")
    # Again, this time killed while a slow receiver takes them one by one.
    from tests.webhook_receiver import Answer

    second = [
        send(relay, f"slow{i}@{names.CUSTOMER_DOMAIN}", "payment-info", f"S-{i}") for i in range(10)
    ]
    slow = ReceiverThread(secret, [Answer(204, delay=0.3)] * 20, port=port).start()
    try:
        slow.wait_for(lambda: len(_delivered(slow) & set(second)) >= 2, 30, "the first events")
        relay.kill()
    finally:
        slow.stop()
    relay.start()
    with ReceiverThread(secret, port=port) as again:
        again.wait_for(
            lambda: (_delivered(slow) | _delivered(again)) >= set(second), 30, "the rest"
        )
    ids = [r.headers["webhook-id"] for r in [*slow.received, *again.received]]
    assert len(set(ids)) >= 10  # repeats are possible (at least once), each with its id
    assert relay.json("status")["webhooks"] == []  # nothing waits any more


def _delivered(hook: ReceiverThread) -> set[str]:
    return {p["data"]["message_id"] for p in hook.payloads("message.delivered")}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_dunning_letter_postfix_rejects_is_escalated_until_acknowledged(
    hooked: RelayProcess,
) -> None:
    relay = hooked
    port = free_port()
    secret = set_webhook(relay, f"http://127.0.0.1:{port}/hook")
    with ReceiverThread(secret, port=port) as hook:
        message = send(relay, names.UNKNOWN_USER, "dunning", "M-77")
        hook.wait_for(lambda: of_message(hook, "message.undeliverable", message), what="escalation")
    data = of_message(hook, "message.undeliverable", message)[0]["data"]
    assert (data["cause"], data["reason"], data["order"]) == ("bounced", "userunknown", "M-77")
    assert "reach the customer another way" in data["text"]
    assert data["action"]["text"].startswith("The customer did not get this dunning message")
    status = relay.run("status").stdout
    assert re.search(r"PROBLEM \d+ mein-shop order M-77 dunning .*unknown@", status), status
    (problem,) = relay.json("problems", "list")
    assert problem["message_id"] == message and problem["open"]
    relay.run("problems", "ack", str(problem["id"]))
    assert "M-77" not in relay.run("status").stdout
    assert relay.json("problems", "list") == []
    assert relay.json("problems", "list", "--all")[0]["acked_by"] == "admin"
    # The shop's software sees it acknowledged too.
    listed = api_for(relay).get("/api/v1/problems?state=all").json["problems"]
    assert [(p["id"], p["open"]) for p in listed] == [(problem["id"], False)]


def test_a_receiver_that_never_answers_holds_up_no_delivery_and_no_other_shop(
    relay_factory: Any,
) -> None:
    """Shop a's endpoint accepts TCP and never sends a byte; shop b's events arrive within
    seconds of its deliveries, and a's own mail is delivered as fast as b's."""
    relay = relay_factory(HOOKS).start()
    relay.add_shop("zweiter-shop", "bare-shop.example.com")
    port = free_port()
    with blackhole() as hang:
        set_webhook(relay, f"http://127.0.0.1:{hang}/hook")
        secret = set_webhook(relay, f"http://127.0.0.1:{port}/hook", "zweiter-shop")
        with ReceiverThread(secret, port=port) as hook:
            for i in range(8):  # shop a first: its events queue up before b's
                send(relay, f"a{i}@{names.CUSTOMER_DOMAIN}", "payment-info", f"A-{i}")
            theirs = api_for(relay, "zweiter-shop")
            b_ids = [
                theirs.post("/api/v1/messages", {"raw": raw_message(
                    f"b{i}@{names.CUSTOMER_DOMAIN}", sender="info@bare-shop.example.com"
                ), "to": [f"b{i}@{names.CUSTOMER_DOMAIN}"]}).json["id"]
                for i in range(8)
            ]  # fmt: skip
            started = time.monotonic()
            for i in range(8):
                relay.wait_state(f"a{i}@{names.CUSTOMER_DOMAIN}", {"delivered"}, timeout=15)
                relay.wait_state(f"b{i}@{names.CUSTOMER_DOMAIN}", {"delivered"}, timeout=15)
            delivered_at = time.monotonic()
            hook.wait_for(lambda: _delivered(hook) >= set(b_ids), 20, "shop b's events")
            arrived = time.monotonic()
        time.sleep(3.5)  # a's first POST has timed out by now
        waiting = {w["shop"]: w for w in relay.json("status")["webhooks"]}
    assert delivered_at - started < 10, "delivery was held up"
    assert arrived - delivered_at < 5.0, f"shop b's events took {arrived - delivered_at:.1f}s"
    assert waiting["mein-shop"]["pending"] > 0  # a's events still wait for its endpoint
    assert "no answer within 3s" in (waiting["mein-shop"]["last_error"] or "")
