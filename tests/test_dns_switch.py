"""The signed/fallback switch, against a running relay, Postfix and a real name server.

Issue 4, acceptance: a shop whose records are published becomes verified and the next message
is signed d= the shop's domain with From unchanged; removing the DKIM record and re-checking
switches it back to the fallback, with a warning and an identity event; a name server that
stops answering does not switch it (the verdict is kept, marked stale).

Each test has its own nsd (the rig's base zones, tests/dns/README.md) so that it can change
and even stop it without touching the session's. The relay asks that nsd (delivery and DNS
checks); the independent verifier (Perl Mail::DKIM) asks it for the keys.
"""

from __future__ import annotations

import email
import json
import sqlite3
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.harness import SHOP, RelayProcess, submit
from tests.keys_in_dns import publish_keys, stored_message, verify_dkim
from tests.rig import names
from tests.rig.nsd import NsdServer, base_zones
from tests.rig.postfix import PostfixRig
from tests.rig.tools import require, wait_until

FROM = f"info@{names.SHOP_DOMAIN}"
FALLBACK = "shops@relay.example.net"


@pytest.fixture
def own_nsd(tmp_path: Path) -> Iterator[NsdServer]:
    require("nsd")
    server = NsdServer(tmp_path / "nsd", base_zones()).start()
    yield server
    server.stop()


@pytest.fixture
def relay_on(relay_factory: Callable[..., RelayProcess], own_nsd: NsdServer) -> RelayProcess:
    """A relay (not started) whose name server is `own_nsd`; the relay's fallback key is
    published, the shop's key not yet."""
    relay = relay_factory({"delivery": {"nameservers": [own_nsd.nameserver]}})
    publish_keys(own_nsd, relay)
    return relay


# --- helpers -------------------------------------------------------------------------------


def submit_and_read(relay: RelayProcess, subject: str) -> tuple[str, Message, bytes]:
    """One message From the shop's address; (queue id, headers as sent, bytes as sent)."""
    qid = submit(relay, names.CUSTOMER, f"Subject: {subject}")
    sent = stored_message(relay, qid, names.CUSTOMER)
    return qid, email.message_from_bytes(sent), sent


def verdict(relay: RelayProcess) -> dict[str, Any] | None:
    return relay.json("shop", "show", SHOP)["verdicts"].get(names.SHOP_DOMAIN)


def start_and_wait_first_check(relay: RelayProcess) -> dict[str, Any]:
    """`relay serve` checks a shop that has no verdict at start-up; wait for that verdict,
    so that later `relay dns check` runs never race it."""
    relay.start()
    try:
        wait_until(lambda: verdict(relay) is not None, 20, "serve's first DNS check", interval=0.3)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; the relay's log:\n{relay.log_text()}") from None
    found = verdict(relay)
    assert found is not None
    return found


def dns_check(relay: RelayProcess) -> dict[str, Any]:
    reports = relay.json("dns", "check", SHOP)
    assert [r["ascii_domain"] for r in reports] == [names.SHOP_DOMAIN]
    return reports[0]


def stored_report(relay: RelayProcess) -> dict[str, Any]:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    (report,) = conn.execute(
        "SELECT report FROM dns_verdicts WHERE shop = ? AND domain = ?", (SHOP, names.SHOP_DOMAIN)
    ).fetchone()
    conn.close()
    return json.loads(report)


def identity_events(relay: RelayProcess) -> list[dict[str, Any]]:
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    rows = conn.execute(
        "SELECT detail FROM events WHERE kind = 'identity' AND shop = ? ORDER BY id", (SHOP,)
    ).fetchall()
    conn.close()
    return [json.loads(detail) for (detail,) in rows]


def signed_by(sent: bytes, nsd: NsdServer) -> list[str]:
    """'pass d=...' lines of the independent verifier, one per signature."""
    return [line for line in verify_dkim(sent, nsd.nameserver) if line.startswith("pass ")]


def assert_signed_as_shop(headers: Message, sent: bytes, nsd: NsdServer) -> None:
    assert headers["From"] == FROM, "From must stay as written"
    assert headers["Reply-To"] is None
    assert [line.split()[1] for line in signed_by(sent, nsd)] == [f"d={names.SHOP_DOMAIN}"]


def assert_fallback(headers: Message, sent: bytes, nsd: NsdServer) -> None:
    assert headers["From"] == f"Mein Shop <{FALLBACK}>"
    assert headers["Reply-To"] == f"Mein Shop <{FROM}>"
    assert [line.split()[1] for line in signed_by(sent, nsd)] == ["d=relay.example.net"]


def without_shop_key(zone: str) -> str:
    return "\n".join(line for line in zone.splitlines() if "._domainkey.shop" not in line) + "\n"


# --- the tests -----------------------------------------------------------------------------


def test_publishing_the_records_switches_to_signed_as_the_shop(
    relay_on: RelayProcess, own_nsd: NsdServer, postfix: PostfixRig
) -> None:
    relay = relay_on
    assert not start_and_wait_first_check(relay)["verified"]  # SPF is there, the key not yet
    _, headers, sent = submit_and_read(relay, "order 1")
    assert_fallback(headers, sent, own_nsd)

    publish_keys(own_nsd, relay, SHOP)
    report = dns_check(relay)
    assert report["verified"] and report["changed"] and not report["stale"]
    assert [(r["check"], r["status"]) for r in report["results"]] == [
        ("dkim", "ok"),
        ("dmarc", "ok"),
        ("return_path", "ok"),  # bounces.shop.example.com CNAME the relay's bounce domain
        ("spf", "ok"),  # pyspf through the alias, against nsd
    ]
    # The stored report tells the sending side which return path it may use.
    assert report["return_path"] == names.SHOP_RETURN_PATH
    assert stored_report(relay)["return_path"] == names.SHOP_RETURN_PATH
    stored = verdict(relay)
    assert stored and stored["verified"] and stored["stale_since"] is None
    assert identity_events(relay)[-1] == {
        "domain": names.SHOP_DOMAIN,
        "verified": True,
        "was": False,
    }
    assert relay.json("status")["shops_with_warnings"] == []

    _, headers, sent = submit_and_read(relay, "order 2")
    assert_signed_as_shop(headers, sent, own_nsd)
    # ... and that is what arrives: the copy Postfix stored verifies the same way.
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=2)
    arrived = [
        m
        for m in postfix.wait_for_messages(names.CUSTOMER, count=2)
        if email.message_from_bytes(m)["Subject"] == "order 2"
    ]
    assert len(arrived) == 1
    assert_signed_as_shop(email.message_from_bytes(arrived[0]), arrived[0], own_nsd)


def test_the_shops_own_spf_record_does_not_decide(
    relay_on: RelayProcess, own_nsd: NsdServer
) -> None:
    """Issue 13 item 7: an SPF record at the shop's domain that refuses the relay outright
    changes nothing, because receivers evaluate SPF for the envelope sender (at the relay's
    bounce domain or the return path); DKIM and alignment decide, and the mail is signed as
    the shop."""
    relay = relay_on
    refusing = '"v=spf1 -all"'
    zone = own_nsd.zones["example.com"]
    own_nsd.set_zone(
        "example.com", zone.replace('"v=spf1 include:_spf.relay.example.net -all"', refusing)
    )
    publish_keys(own_nsd, relay, SHOP)
    assert start_and_wait_first_check(relay)["verified"]
    _, headers, sent = submit_and_read(relay, "order 1")
    assert_signed_as_shop(headers, sent, own_nsd)
    assert stored_report(relay)["return_path"] == names.SHOP_RETURN_PATH


def test_removing_the_dkim_record_switches_back_to_the_fallback(
    relay_on: RelayProcess, own_nsd: NsdServer
) -> None:
    relay = relay_on
    publish_keys(own_nsd, relay, SHOP)
    assert start_and_wait_first_check(relay)["verified"]
    _, headers, sent = submit_and_read(relay, "order 1")
    assert_signed_as_shop(headers, sent, own_nsd)

    own_nsd.set_zone("example.com", without_shop_key(own_nsd.zones["example.com"]))
    report = dns_check(relay)
    assert not report["verified"] and report["changed"] and not report["stale"]
    dkim = next(r for r in report["results"] if r["check"] == "dkim")
    assert (dkim["status"], dkim["detail"]["reason"]) == ("error", "no-record")

    _, headers, sent = submit_and_read(relay, "order 2")
    assert_fallback(headers, sent, own_nsd)

    warned = {s["shop"]: s["warnings"] for s in relay.json("status")["shops_with_warnings"]}
    assert any(f"{names.SHOP_DOMAIN} is not verified" in w for w in warned[SHOP]), warned
    shown = relay.json("shop", "show", SHOP)
    assert shown["verified_domains"] == []
    assert shown["verdicts"][names.SHOP_DOMAIN]["verified"] is False
    assert identity_events(relay)[-1] == {
        "domain": names.SHOP_DOMAIN,
        "verified": False,
        "was": True,
    }
    # The change is shown where admins look: status, shop show, shop list.
    change = {"domain": names.SHOP_DOMAIN, "verified": False, "was": True}
    assert {k: shown["identity_changes"][0][k] for k in change} == change
    status_change = relay.json("status")["identity_changes"][0]
    assert (status_change["shop"], status_change["verified"]) == (SHOP, False)
    assert "became NOT verified" in relay.run("shop", "list").stdout


def test_a_silent_name_server_keeps_the_shop_verified(
    relay_on: RelayProcess, own_nsd: NsdServer
) -> None:
    relay = relay_on
    publish_keys(own_nsd, relay, SHOP)
    assert start_and_wait_first_check(relay)["verified"]
    events = identity_events(relay)

    own_nsd.stop()
    try:
        report = dns_check(relay)
        assert report["stale"] and report["dns_trouble"] and not report["changed"]
        assert {r["status"] for r in report["results"]} == {"unknown"}
        assert report["return_path"] is None

        shown = relay.json("shop", "show", SHOP)
        kept = shown["verdicts"][names.SHOP_DOMAIN]
        assert kept["verified"] is True and kept["stale_since"] is not None
        assert shown["verified_domains"] == [names.SHOP_DOMAIN]
        assert any("DNS could not be checked since" in w for w in shown["warnings"])
        assert identity_events(relay) == events, "DNS trouble is no change of identity"

        _, headers, sent = submit_and_read(relay, "order while DNS is down")
    finally:
        own_nsd.start()  # the verifier needs the keys again
    assert_signed_as_shop(headers, sent, own_nsd)
