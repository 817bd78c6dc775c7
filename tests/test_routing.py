"""Where mail for a domain goes, and when DNS proves that it can go nowhere (RFC 5321 5.1).

A domain that names no host that could take mail (no MX and no A/AAAA; MX hosts none of which
has an address) fails at once, as Postfix bounces it (5.4.4), when every lookup was a definite
answer; a lookup that failed for now (SERVFAIL, timeout) only defers. The integration test
runs the real relay against nsd; the unit tests give the Router a resolver that answers from
a table (the seam relay.dns.AsyncResolver).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dns_checks import DnsNotFound, DnsTemporary
from relay.delivery.routing import MxHost, RouteError, Router
from tests.harness import RelayProcess, submit
from tests.rig.nsd import NsdServer, base_zones
from tests.rig.postfix import PostfixRig

NO_ADDRESS = "max@no-address.example.com"  # the domain exists (TXT), no MX, no A/AAAA
MX_NOWHERE = "max@mx-nowhere.example.com"  # MX to a name that does not exist


@pytest.fixture
def dns(make_nsd: Callable[..., NsdServer]) -> NsdServer:
    zones = base_zones()
    zones["example.com"] += (
        'no-address IN TXT "v=spf1 -all"\nmx-nowhere IN MX 10 no-such-host.example.net.\n'
    )
    return make_nsd(zones, base=False)


@pytest.mark.parametrize("address", [NO_ADDRESS, MX_NOWHERE])
def test_a_domain_that_names_no_mail_host_fails_at_once(
    tmp_path, dns: NsdServer, postfix: PostfixRig, address: str
) -> None:
    relay = RelayProcess(tmp_path / "relay", dns.nameserver, postfix.port).init()
    relay.add_shop()
    relay.start()
    try:
        submit(relay, address, "X-Relay-Kind: dunning")
        row = relay.wait_state(address, {"deferred", "failed", "bounced"})[0]
        assert row["status"] == "failed", (row["status"], row["explanation"])
        assert (row["attempts"], row["last_status"]) == (1, "5.4.4")
        assert "the relay's DNS lookup found" in row["explanation"]
        # Mandatory mail that cannot reach the customer is the shop's problem now, not in
        # five days.
        assert [p["recipient"] for p in relay.json("problems", "list")] == [address]
    finally:
        relay.stop()


NX, TEMP = DnsNotFound("no such name"), DnsTemporary("SERVFAIL")


class TableResolver:
    """Answers MX, A and AAAA from a table: a list, or an exception to raise; absent: []."""

    def __init__(self, table: dict[tuple[str, str], object]) -> None:
        self.table = table

    async def _answer(self, name: str, rdtype: str) -> list:
        found = self.table.get((name, rdtype), [])
        if isinstance(found, Exception):
            raise found
        return list(found)  # type: ignore[call-overload]

    async def mx(self, name: str) -> list:
        return await self._answer(name, "MX")

    async def a(self, name: str) -> list:
        return await self._answer(name, "A")

    async def aaaa(self, name: str) -> list:
        return await self._answer(name, "AAAA")


def route(table: dict[tuple[str, str], object], allow_private: bool = False) -> list[MxHost]:
    router = Router(TableResolver(table), allow_private)  # type: ignore[arg-type]
    return asyncio.run(router.route("example.com"))


def refusal(table: dict[tuple[str, str], object], allow_private: bool = False) -> RouteError:
    with pytest.raises(RouteError) as caught:
        route(table, allow_private)
    return caught.value


MX = {("example.com", "MX"): [(10, "mx1.example.net"), (20, "mx2.example.net")]}


@pytest.mark.parametrize(
    "table",
    [
        {},  # no MX (NODATA) and the domain has no A/AAAA (NODATA)
        {("example.com", "A"): NX, ("example.com", "AAAA"): NX},
        MX,  # MX hosts without A/AAAA
        {**MX, ("mx1.example.net", "A"): NX, ("mx2.example.net", "AAAA"): NX},
    ],
)
def test_definite_answers_that_name_no_host_are_permanent(table: dict) -> None:
    error = refusal(table)
    assert (error.permanent, error.status) == (True, "5.4.4")


@pytest.mark.parametrize(
    "table",
    [
        {("example.com", "A"): TEMP},  # no MX; the implicit MX's lookup failed for now
        {**MX, ("mx2.example.net", "AAAA"): TEMP},  # one host unknown: it may have one
    ],
)
def test_a_lookup_that_failed_for_now_only_defers(table: dict) -> None:
    error = refusal(table)
    assert (error.permanent, error.status) == (False, "4.4.3")
    assert "failed for now" in error.text


def test_only_loopback_or_private_addresses_defer_and_name_the_setting() -> None:
    error = refusal({**MX, ("mx1.example.net", "A"): ["127.0.0.3"]})
    assert (error.permanent, error.status) == (False, "4.4.4")
    assert "delivery.allow_private_mx" in error.text


def test_a_host_with_an_address_is_tried_despite_the_others_trouble() -> None:
    table = {**MX, ("mx1.example.net", "A"): TEMP, ("mx2.example.net", "A"): ["127.0.0.25"]}
    assert route(table, allow_private=True) == [MxHost("mx2.example.net", 20, ("127.0.0.25",))]
