"""Issue 14 item 1 acceptance: the log of `relay serve` as an operator reads and greps it.

Real parts: `relay serve` with two workers, swaks, the Postfix rig as the customers' MX (it
delivers one recipient, defers one with 450 and refuses one with 550), nsd, curl.
"""

from __future__ import annotations

import base64
import email
import re
import smtplib
import subprocess

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess, queue_id, shop_mail, swaks
from tests.logfmt import events
from tests.rig import names
from tests.rig.postfix import PostfixRig

BODY_MARKER = "Kundennummer 4711-geheim"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_one_attempt_line_per_recipient_delivered_deferred_bounced(relay_factory, fmt) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory(
        {"relay": {"workers": 2}, "delivery": {"retry_schedule": "1h"}}
    ).start("--log-format", fmt)
    to = ",".join((names.CUSTOMER, names.BUSY, names.UNKNOWN_USER))
    qid = queue_id(shop_mail(relay, to, "X-Relay-Kind: dunning", "X-Relay-Order: L-1").stdout)
    # Accepted, then bounced by a DSN that comes back to the bounce listener: a report line.
    later = queue_id(shop_mail(relay, names.LATER_UNKNOWN, "X-Relay-Order: L-2").stdout)
    relay.wait_state(names.CUSTOMER, {"delivered"})
    relay.wait_state(names.BUSY, {"deferred"})
    relay.wait_state(names.UNKNOWN_USER, {"bounced"})
    relay.wait_state(names.LATER_UNKNOWN, {"bounced"}, timeout=60)
    relay.stop()
    lines = events(relay.log.read_text(), fmt)  # every line parses

    attempts = [e for e in lines if e.get("event") == "attempt" and e["id"] == qid]
    by_address = {e["to"]: e for e in attempts}
    assert sorted(e["to"] for e in attempts) == sorted(by_address)  # one each, no repeats
    assert set(by_address) == {names.CUSTOMER, names.BUSY, names.UNKNOWN_USER}
    delivered, deferred = by_address[names.CUSTOMER], by_address[names.BUSY]
    bounced = by_address[names.UNKNOWN_USER]
    assert [e["state"] for e in (delivered, deferred, bounced)] == [
        "delivered",
        "deferred",
        "bounced",
    ]
    for line in (delivered, deferred, bounced):
        assert line["id"] == qid and line["mx"] == names.MX_HOST
        assert str(line["tls"]) in ("yes", "True") and float(line["delay"]) >= 0
    assert delivered["reply"].startswith("250 ") and delivered["dsn"] == "2.0.0"
    assert deferred["reply"].startswith("450 4.2.0") and deferred["next"] not in (None, "-")
    assert bounced["reply"].startswith("550 5.1.1") and bounced["reason"] == "userunknown"

    accepted = [e for e in lines if e.get("event") == "accepted" and e["id"] == qid]
    assert len(accepted) == 1
    assert {k: str(accepted[0][k]) for k in ("id", "shop", "kind", "order", "recipients")} == {
        "id": qid,
        "shop": SHOP,
        "kind": "dunning",
        "order": "L-1",
        "recipients": "3",
    }
    assert int(accepted[0]["size"]) > 100

    reports = [e for e in lines if e.get("event") == "report"]
    assert len(reports) == 1, reports
    assert (reports[0]["id"], reports[0]["to"], reports[0]["kind"]) == (
        later,
        names.LATER_UNKNOWN,
        "bounce",
    )
    assert reports[0]["status"] == "matched" and "bounced" in reports[0]["effect"]

    # Every line says which process wrote it (0-based workers), start-up lines come once.
    assert {str(e["worker"]) for e in lines} <= {"0", "1", "supervisor"}
    messages = [e.get("msg", "") for e in lines]
    assert sum(m.startswith("relay ready") for m in messages) == 1
    assert sum("submission (STARTTLS) listening on" in m for m in messages) == 1
    assert sum(m == "stopped" for m in messages) == 1


def test_no_password_token_or_body_in_the_log(  # type: ignore[no-untyped-def]
    relay_factory, postfix: PostfixRig
) -> None:
    """Even with -v: AUTH PLAIN and LOGIN, an opt-out by link, by one-click POST and by mailto,
    a delivered optional message with its bounce address."""
    relay: RelayProcess = relay_factory({"relay": {"workers": 1}}).start(verbose=True)
    customer = f"geheim@{names.CUSTOMER_DOMAIN}"
    done = shop_mail(relay, customer, "X-Relay-Kind: refund", body=BODY_MARKER)
    qid = queue_id(done.stdout)
    login = swaks(
        relay.submission_port,
        "--auth",
        "LOGIN",
        "--from",
        "info@shop.example.com",
        "--to",
        customer,
        "--body",
        BODY_MARKER,
    )
    assert "queued as" in login.stdout, login.stdout
    relay.wait_state(customer, {"delivered"}, count=2)
    received = postfix.wait_for_messages(customer)[0]
    message = email.message_from_bytes(received)
    unsubscribe = message["List-Unsubscribe"]
    link = re.search(r"<(http[^>]+)>", unsubscribe).group(1)  # type: ignore[union-attr]
    mailto = re.search(r"<mailto:([^>?]+)", unsubscribe).group(1)  # type: ignore[union-attr]
    bounce_address = message["Return-Path"].strip("<>")
    subprocess.run(["curl", "-s", "-o", "/dev/null", link], check=True, timeout=30)
    subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-d", "List-Unsubscribe=One-Click", link],
        check=True,
        timeout=30,
    )
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.sendmail(customer, [mailto], b"Subject: unsubscribe\r\n\r\nplease\r\n")
    relay.stop()
    log = relay.log.read_text()
    assert f"event=attempt id={qid}" in log  # the run was logged at all
    secrets_ = {
        "password": SHOP_PASSWORD,
        "AUTH PLAIN blob": base64.b64encode(f"\0{SHOP}\0{SHOP_PASSWORD}".encode()).decode(),
        "AUTH LOGIN password": base64.b64encode(SHOP_PASSWORD.encode()).decode(),
        "opt-out link token": link.rsplit("/", 1)[1],
        "opt-out mailto token": mailto.split("@")[0],
        "bounce address token": bounce_address.split("@")[0],
        "message body": BODY_MARKER,
        "relay secret": (relay.root / "var" / "secret.key").read_text().strip(),
    }
    leaked = [name for name, value in secrets_.items() if value in log]
    assert not leaked, f"{leaked} in the log:\n{log[-3000:]}"
