"""The console's DNS page against nsd with the test zones: the records to publish, the fallback
warning while the domain is not verified, and "check now", which stores the verdict as `relay
dns check` does (the shop's DKIM key published in between turns it verified)."""

from __future__ import annotations

import json
from pathlib import Path

from relay.keys import public_key_b64
from relay.store.shops import get_shop, verdicts
from tests.console_app import PASSWORD_A, SHOP_A, cli, running_console
from tests.keys_in_dns import txt


def test_check_now_stores_the_verdict_and_the_page_says_what_to_publish(
    tmp_path: Path, make_nsd
) -> None:  # type: ignore[no-untyped-def]
    nsd = make_nsd()
    with running_console(tmp_path, nameserver=nsd.nameserver) as console:
        client = console.client()
        client.login(SHOP_A, PASSWORD_A)
        shop = get_shop(console.db.read(), SHOP_A)
        page = client.get("/console/dns")
        assert page.status == 200
        dkim_name = f"{shop.dkim_selector}._domainkey.shop.example.com"
        assert dkim_name in page.text and "erforderlich" in page.text
        assert "shop.example.com ist nicht bestätigt" in page.text  # the fallback warning
        assert "Noch nie geprüft." in page.text
        checked = client.post("/console/dns/check", {"csrf": page.csrf()})
        assert (checked.status, checked.location) == (303, "/console/dns?checked=1")
        stored = verdicts(console.db.read(), SHOP_A)["shop.example.com"]
        assert not stored.verified and stored.report["results"]
        after = client.get(checked.location)
        assert "Geprüft: 0 von 1 Domains bestätigt." in after.text
        assert "status-error" in after.text and "Zuletzt geprüft" in after.text
        com = nsd.zones["example.com"].rstrip("\n")
        value = txt("v=DKIM1; k=rsa; p=" + public_key_b64(shop.dkim_private_key))
        nsd.set_zone("example.com", f"{com}\n{shop.dkim_selector}._domainkey.shop IN TXT {value}\n")
        client.post("/console/dns/check", {"csrf": page.csrf()})
        assert verdicts(console.db.read(), SHOP_A)["shop.example.com"].verified
        verified = client.get("/console/dns?checked=1&lang=en")
        assert "verified: your mail is signed with your domain" in verified.text
        assert "is not verified" not in verified.text
        shown = json.loads(cli(console.root, "shop", "show", SHOP_A, "--json"))
        assert shown["verified_domains"] == ["shop.example.com"]  # the CLI sees the same
