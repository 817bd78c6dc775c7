"""A domain that exists but names no host that could take mail is retried until max_age.

`Router.route` treats "no MX and no A/AAAA" (the implicit MX of RFC 5321 5.1 has no address)
and "MX hosts none of which has an address" as temporary (`4.4.4`), because `_addresses`
swallows NXDOMAIN/NODATA and DNS trouble alike. The recipient is then `deferred` for the whole
queue lifetime (5 days) and only then `bounced` as `expired`, although DNS answered
definitely: nothing will ever take this mail. Postfix bounces both at once with 5.4.4 ("Host or
domain name not found ... no data record of requested type"; smtp_addr.c, and
smtp_defer_if_no_mx_address_found = no). SPEC: a domain that cannot take mail is `failed`,
with what is wrong with the domain; a shop's mandatory mail to it should be escalated now, not
after five days. Only lookups that failed for a while (SERVFAIL, timeout) should defer.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

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
    finally:
        relay.stop()
