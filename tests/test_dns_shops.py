"""A shop's DNS through the CLI, against the rig's nsd: public mailbox domains refused (issue 13
item 9), what an organizational DMARC record says about a subdomain shop (item 10), and what
`relay shop add` / `relay dns show` ask a shop to publish (items 5 and 7)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RelayProcess
from tests.keys_in_dns import shop_key, txt
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.tools import free_port

ORG_DMARC = "v=DMARC1; p=quarantine; sp=none; rua=mailto:dmarc@example.org"


def make_relay(root: Path, nsd: NsdServer) -> RelayProcess:
    return RelayProcess(root, nsd.nameserver, free_port()).init()  # only the CLI runs


@pytest.fixture
def relay(tmp_path: Path, nsd: NsdServer) -> RelayProcess:
    return make_relay(tmp_path / "relay", nsd)


def add_shop(relay: RelayProcess, name: str, domain: str, sender: str | None = None) -> Any:
    args = ["shop", "add", name, "--domain", domain, "--sender", sender or f"info@{domain}"]
    return relay.run(
        *args, "--sender-name", name.title(), "--password", "a-long-enough-password", check=False
    )


# --- item 9: public mailbox domains ---------------------------------------------------------


@pytest.mark.parametrize("domain", ["gmail.com", "GMail.COM.", "gmx.de"])
def test_shop_add_refuses_a_public_mailbox_domain(relay: RelayProcess, domain: str) -> None:
    done = add_shop(relay, "freemail", domain)
    assert done.returncode == 2, done  # a bad --domain value: a usage error
    assert "is a public mailbox domain: only its provider can publish DNS records" in done.stderr
    assert "naming it as --sender" in done.stderr  # what the shop can do instead
    assert relay.json("shop", "list") == []


def test_a_public_mailbox_sender_with_the_shops_own_domain_is_accepted(
    relay: RelayProcess,
) -> None:
    done = add_shop(
        relay, "kleiner-laden", names.BARE_SHOP_DOMAIN, sender="kleiner.laden@gmail.com"
    )
    assert done.returncode == 0, done.stderr
    shop = relay.json("shop", "show", "kleiner-laden")
    assert (shop["sender"], shop["domains"]) == (
        "kleiner.laden@gmail.com",
        [names.BARE_SHOP_DOMAIN],
    )
    assert "gmail.com" not in done.stdout.split("DNS records to publish")[1]


def test_a_stored_public_mailbox_domain_is_never_verified_whatever_dns_says(
    tmp_path: Path, make_nsd: Callable[..., NsdServer]
) -> None:
    """A shop stored before the refusal existed: even with the shop's key published at
    gmail.com (the rig's gmail.com zone also has SPF for the relay), nothing is verified and
    nothing is asked of DNS."""
    nsd = make_nsd()
    relay = make_relay(tmp_path / "relay", nsd)
    assert add_shop(relay, "legacy", names.BARE_SHOP_DOMAIN).returncode == 0
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    with conn:
        conn.execute(
            "UPDATE shops SET domains = ? WHERE name = 'legacy'", (json.dumps(["gmail.com"]),)
        )
    conn.close()
    selector, public = shop_key(relay, "legacy")
    zone = nsd.zones["gmail.com"].rstrip("\n")
    nsd.set_zone(
        "gmail.com", zone + f"\n{selector}._domainkey IN TXT {txt('v=DKIM1; p=' + public)}\n"
    )

    (report,) = relay.json("dns", "check", "legacy")
    assert report["verified"] is False and report["return_path"] is None
    assert [(r["check"], r["status"], r["detail"]["reason"]) for r in report["results"]] == [
        ("domain", "error", "public-mailbox-domain")
    ]
    assert relay.json("dns", "show", "legacy") == [
        {"domain": "gmail.com", "records": [], "note": ""}
    ]


# --- item 10: DMARC at the shop's own domain; what the organizational record says -------------


def test_an_organizational_dmarc_record_over_a_subdomain_shop(relay: RelayProcess) -> None:
    assert add_shop(relay, "sub", names.SUB_SHOP_DOMAIN).returncode == 0
    (report,) = relay.json("dns", "check", "sub")
    dmarc = next(r for r in report["results"] if r["check"] == "dmarc")
    assert dmarc["status"] == "ok"
    assert dmarc["detail"]["from_org_domain"] is True
    assert (dmarc["detail"]["policy"], dmarc["detail"]["subdomain_policy"]) == (
        "quarantine",
        "none",
    )
    assert dmarc["detail"]["effective_policy"] == "none"
    assert dmarc["found"] == (
        f"no record at _dmarc.{names.SUB_SHOP_DOMAIN}; the organizational domain's record at "
        f"_dmarc.example.org governs it: {ORG_DMARC} (its sp=none applies to "
        f"{names.SUB_SHOP_DOMAIN})"
    )

    (shown,) = relay.json("dns", "show", "sub")
    (own,) = [r for r in shown["records"] if r["name"].startswith("_dmarc.")]
    # At the shop's own domain, never at example.org; keeping the policy that applies now.
    assert (own["name"], own["value"], own["need"]) == (
        f"_dmarc.{names.SUB_SHOP_DOMAIN}",
        "v=DMARC1; p=none",
        "optional",
    )
    assert (
        "_dmarc.example.org (your organizational domain's record) already governs" in (own["note"])
    )


# --- items 5 and 7: what a shop is asked to publish ---------------------------------------------


def test_shop_add_and_dns_show_ask_for_dkim_dmarc_and_the_optional_return_path(
    relay: RelayProcess,
) -> None:
    done = add_shop(relay, "bare", names.BARE_SHOP_DOMAIN)
    printed = done.stdout.split("DNS records to publish")[1]
    assert f"_dmarc.{names.BARE_SHOP_DOMAIN}  TXT" in printed
    assert f"bounces.{names.BARE_SHOP_DOMAIN}  CNAME  {names.BOUNCE_DOMAIN}  (optional)" in printed
    assert "v=spf1" not in printed  # nothing at the shop's own domain is SPF any more

    (shown,) = relay.json("dns", "show", "bare")
    assert [(r["type"], r["need"]) for r in shown["records"]] == [
        ("TXT", "required"),  # DKIM
        ("TXT", "recommended"),  # DMARC
        ("CNAME", "optional"),  # the custom return path
    ]
    assert shown["note"].startswith(f"No SPF record is needed at {names.BARE_SHOP_DOMAIN} ")
    human = relay.run("dns", "show", "bare").stdout
    assert "DMARC passes on SPF as well as on DKIM" in human
    assert "No SPF record is needed" in human


def test_check_without_the_return_path_says_it_is_optional(relay: RelayProcess) -> None:
    add_shop(relay, "bare", names.BARE_SHOP_DOMAIN)
    (report,) = relay.json("dns", "check", "bare")
    route, spf = report["results"][2:]
    assert (route["check"], route["status"]) == ("return_path", "optional")
    assert (spf["check"], spf["status"]) == ("spf", "optional")
    assert report["return_path"] is None
    human = relay.run("dns", "check", "bare").stdout
    rp = f"bounces.{names.BARE_SHOP_DOMAIN}"
    assert f"[optional] return_path ({rp}): no record" in human
    assert f"[optional] spf ({rp}): no record" in human
    assert "custom return path: none" in human
