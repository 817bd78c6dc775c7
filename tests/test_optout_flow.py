"""Issue 6 acceptance: kinds, List-Unsubscribe headers, opt-out from a delivered message.

The unsubscribe link is taken from the message Postfix stored, opened in headless Chromium;
after confirming, the next optional message is suppressed while a dunning letter still goes out.
"""

from __future__ import annotations

import email
import re
import subprocess
from pathlib import Path

import pytest

from tests.browser import open_and_confirm, require_browser
from tests.harness import RelayProcess, shop_mail, submit
from tests.keys_in_dns import publish_keys, stored_message, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

# The end-to-end flows run on both store backends (tests/conftest.py).
pytestmark = pytest.mark.backends("sqlite", "postgresql")

ARTIFACTS = Path(__file__).parent / "artifacts"


def _send(relay: RelayProcess, to: str, kind: str, order: str) -> str:
    return submit(relay, to, f"X-Relay-Kind: {kind}", f"X-Relay-Order: {order}")


def _unsubscribe_url(message: bytes) -> str:
    header = email.message_from_bytes(message)["List-Unsubscribe"] or ""
    match = re.search(r"<(http[^>]+)>", header)
    assert match, f"no https link in List-Unsubscribe: {header!r}"
    return match.group(1)


def test_browser_opt_out_stops_optional_mail_but_not_dunning(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    require_browser()
    customer = f"eva@{names.CUSTOMER_DOMAIN}"
    _send(relay, customer, "refund", "R-1")
    relay.wait_state(customer, {"delivered"})
    received = postfix.wait_for_messages(customer)[0]
    visit = open_and_confirm(_unsubscribe_url(received), ARTIFACTS / "optout-e2e.png")
    assert "Mein Shop" in visit.before and "Erstattungsbestätigungen" in visit.before
    assert "Mein Shop" in visit.after
    _send(relay, customer, "refund", "R-2")
    _send(relay, customer, "dunning", "R-3")
    refund = relay.recipients(order="R-2")[0]
    assert (refund["status"], refund["reason"]) == ("suppressed", "opted-out")
    assert re.search(
        r"not sent: customer opted out of refund confirmations on \d{4}-\d\d-\d\d",
        refund["explanation"],
    )
    relay.wait_state(customer, {"delivered"}, count=2)  # R-1 and the dunning letter R-3
    assert relay.json("optouts", "list")[0]["source"] == "link"


def test_one_click_post_opts_out_and_tampered_tokens_get_404(
    relay: RelayProcess, postfix: PostfixRig
) -> None:
    customer, other = f"jan@{names.CUSTOMER_DOMAIN}", f"ida@{names.CUSTOMER_DOMAIN}"
    _send(relay, customer, "payment-received", "P-1")
    _send(relay, other, "payment-received", "P-2")
    relay.wait_state(customer, {"delivered"})
    url = _unsubscribe_url(postfix.wait_for_messages(customer)[0])
    token = url.rsplit("/", 1)[1]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    for bad in (url.replace(token, flipped), url.replace(token, token[:-3])):
        assert _curl_post(bad) == "404"
    assert relay.json("optouts", "list") == []
    assert _curl_post(url) == "200"
    optouts = relay.json("optouts", "list")
    assert [(o["address"], o["kind"], o["source"]) for o in optouts] == [
        (customer, "payment-received", "one-click")
    ]  # only this address, only this kind


def _curl_post(url: str) -> str:
    done = subprocess.run(
        [
            "curl",
            "--noproxy",
            "*",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-d",
            "List-Unsubscribe=One-Click",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout


def test_unsubscribe_headers_only_on_optional_kinds_and_signed(
    relay: RelayProcess, nsd: NsdServer
) -> None:
    publish_keys(nsd, relay)
    optional = stored_message(relay, _send(relay, names.CUSTOMER, "refund", "H-1"), names.CUSTOMER)
    mandatory = stored_message(
        relay, _send(relay, names.CUSTOMER, "payment-reminder", "H-2"), names.CUSTOMER
    )
    headers = email.message_from_bytes(optional)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<mailto:u-" in headers["List-Unsubscribe"]
    result = verify_dkim(optional, nsd.nameserver)[0]
    assert result.startswith("pass") and "list-unsubscribe:list-unsubscribe-post" in result.lower()
    plain = email.message_from_bytes(mandatory)
    assert plain["List-Unsubscribe"] is None and plain["List-Unsubscribe-Post"] is None
    assert verify_dkim(mandatory, nsd.nameserver)[0].startswith("pass")


def test_mailto_unsubscribe_opts_out(relay: RelayProcess, postfix: PostfixRig) -> None:
    import smtplib

    customer = f"ole@{names.CUSTOMER_DOMAIN}"
    _send(relay, customer, "refund", "M-1")
    relay.wait_state(customer, {"delivered"})
    header = email.message_from_bytes(postfix.wait_for_messages(customer)[0])["List-Unsubscribe"]
    mailto = re.search(r"<mailto:([^>]+)>", header).group(1)  # type: ignore[union-attr]
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=30) as smtp:
        smtp.sendmail(customer, [mailto], b"Subject: unsubscribe\r\n\r\nunsubscribe\r\n")
    from tests.harness import wait

    wait(lambda: relay.json("optouts", "list"), 20, "the mailto opt-out")
    assert relay.json("optouts", "list")[0]["source"] == "mailto"


def test_disabled_and_unknown_kinds(relay: RelayProcess) -> None:
    relay.run("shop", "kinds", "mein-shop", "--disable", "payment-received")
    _send(relay, names.CUSTOMER, "payment-received", "K-1")
    row = relay.recipients(order="K-1")[0]
    assert (row["status"], row["reason"]) == ("suppressed", "kind-disabled")
    done = shop_mail(relay, names.CUSTOMER, "X-Relay-Kind: refnud")
    assert "550 5.7.1 Unknown X-Relay-Kind 'refnud'" in done.stdout
    assert "dunning" in done.stdout and "refund" in done.stdout
    shown = relay.json("shop", "show", "mein-shop")
    assert {"kind": "payment-received", "optional": True, "enabled": False} in shown["kinds"]


def test_optout_removed_by_admin_with_reason(relay: RelayProcess) -> None:
    relay.execute(
        "INSERT INTO optouts VALUES ('mein-shop', ?, 'refund', 0, 'link')", names.CUSTOMER
    )
    relay.run(
        "optouts",
        "remove",
        "--shop",
        "mein-shop",
        "--address",
        names.CUSTOMER,
        "--kind",
        "refund",
        "--reason",
        "customer asked by phone",
    )
    assert relay.json("optouts", "list") == []
    _send(relay, names.CUSTOMER, "refund", "O-1")
    assert relay.recipients(order="O-1")[0]["status"] != "suppressed"
