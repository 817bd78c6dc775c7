"""The console's DNS page against nsd with the test zones: the records to publish, the fallback
warning while the domain is not verified, and "check now", which stores the verdict as `relay
dns check` does (the shop's DKIM key published in between turns it verified). The page's
lookups run in a pool of their own, one run per shop at a time (review 3, finding 3)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import relay.actions.dns as actions_dns
from relay.actions.dns import ShopDns
from relay.errors import SetupError
from relay.keys import public_key_b64
from relay.model import Shop
from relay.store.shops import get_shop, verdicts
from tests.console_app import PASSWORD_A, PASSWORD_B, SHOP_A, SHOP_B, cli, running_console
from tests.keys_in_dns import txt

PARALLEL = 12


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


def test_shop_a_dns_pages_do_not_hold_up_shop_b_login(tmp_path: Path) -> None:
    """Review 3: one shop's console DNS page stalled everyone's work in worker 0's default
    thread pool (another shop's console log-in, SMTP AUTH's scrypt, large messages' body hash,
    bounce report parsing): `GET /console/dns` ran its blocking lookups (CHECK_TIMEOUT = 3 s
    each) there, and a shop controls its domains' DNS. Here the relay's resolver is a UDP
    socket that never answers; shop A's staff load the DNS page a dozen times at once, and
    shop B's log-in, normally a fraction of a second, must not wait for them."""
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blackhole.bind(("127.0.0.1", 0))  # takes queries, answers none
    port = blackhole.getsockname()[1]
    try:
        with running_console(tmp_path, nameserver=f"127.0.0.1:{port}") as console:
            a = console.client()
            assert a.login(SHOP_A, PASSWORD_A).status == 303
            started = time.monotonic()
            assert console.client().login(SHOP_B, PASSWORD_B).status == 303
            quiet = time.monotonic() - started

            loads = [
                threading.Thread(target=a.get, args=("/console/dns",)) for _ in range(PARALLEL)
            ]
            for load in loads:
                load.start()
            time.sleep(0.5)  # the DNS pages have taken the pool's threads
            started = time.monotonic()
            reply = console.client().login(SHOP_B, PASSWORD_B)
            busy = time.monotonic() - started
            for load in loads:
                load.join(timeout=120)
            assert reply.status == 303
            assert busy < quiet + 2.0, f"shop B's log-in took {busy:.1f}s (quiet: {quiet:.2f}s)"
    finally:
        blackhole.close()


class _SlowDns:
    """publish_records and check_shop stand-ins that count their runs, note their thread and
    wait until released: the DNS of a shop whose name servers are slow."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.fail = False

    def __call__(self, shop: Shop, *args: Any) -> list[Any]:
        self.runs.append(shop.name)
        self.threads.add(threading.current_thread().name)
        self.release.wait(10)
        if self.fail:
            raise SetupError("no name server")
        return []


@pytest.fixture
def slow_dns(monkeypatch: pytest.MonkeyPatch) -> _SlowDns:
    slow = _SlowDns()
    monkeypatch.setattr(actions_dns, "publish_records", slow)
    monkeypatch.setattr(actions_dns, "check_shop", slow)
    monkeypatch.setattr(actions_dns, "check_resolver", lambda config: None)
    return slow


def _shop(name: str) -> Shop:
    return Shop(name, ("shop.example.com",), "info@shop.example.com", "Shop", "de", "", "s1", "k")


def test_parallel_views_of_one_shop_share_one_lookup_in_the_dns_pool(slow_dns: _SlowDns) -> None:
    async def scenario() -> None:
        dns = ShopDns(None, None, None)  # type: ignore[arg-type]
        a, b = _shop("shop-a"), _shop("shop-b")
        views = [asyncio.ensure_future(dns.records(a)) for _ in range(PARALLEL)]
        other = asyncio.ensure_future(dns.records(b))
        await asyncio.sleep(0.2)
        slow_dns.release.set()
        assert await asyncio.gather(*views, other) == [[]] * (PARALLEL + 1)
        assert sorted(slow_dns.runs) == ["shop-a", "shop-b"]  # one run per shop, not 13
        assert all(name.startswith("relay-dns") for name in slow_dns.threads)
        await dns.records(a)  # within RECORDS_FRESH: the last result, no new lookup
        assert len(slow_dns.runs) == 2

    asyncio.run(scenario())


def test_a_failed_lookup_is_not_kept_and_check_now_asks_again(
    slow_dns: _SlowDns, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def store(*args: Any) -> list[Any]:
        return []

    monkeypatch.setattr(actions_dns, "get_shop", lambda conn, name: _shop(name))
    slow_dns.release.set()

    async def scenario() -> None:
        dns = ShopDns(None, lambda: None, store)  # type: ignore[arg-type]
        shop = _shop("shop-a")
        slow_dns.fail = True
        with pytest.raises(SetupError):
            await dns.records(shop)
        slow_dns.fail = False
        await dns.records(shop)  # the failure was not kept
        assert len(slow_dns.runs) == 2
        await dns.check(shop)
        await dns.check(shop)  # "check now" twice, one after the other: two checks
        assert len(slow_dns.runs) == 4
        await dns.records(shop)  # a check makes the page ask DNS again
        assert len(slow_dns.runs) == 5

    asyncio.run(scenario())
