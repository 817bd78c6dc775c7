"""`relay dns show --relay` / `relay dns check --relay` against the rig's nsd (issue 13 item 11).

The base zones (tests/dns/README.md) publish everything the relay needs: SPF and MX of the
bounce domain, the relay's SPF include, DMARC of the fallback domain, reverse DNS of
127.0.0.1 (forward-confirmed), MTA-STS and TLS-RPT; the fallback DKIM key is generated per
relay and published by the test. With all of it: all ok. Without each one: that record is
named, with the record to publish. And what `show --relay` prints, pasted into zones that
lack it, makes the check pass: the round trip an operator does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from dns_checks import relay_dns_warnings
from tests.harness import RelayProcess
from tests.keys_in_dns import publish_keys, txt
from tests.rig import names
from tests.rig.nsd import NsdServer
from tests.rig.tools import free_port, wait_until

NET, REVERSE = "example.net", "127.in-addr.arpa"
BOUNCE, INCLUDE, HOST = names.BOUNCE_DOMAIN, names.RELAY_SPF_INCLUDE, names.RELAY_HOST
PTR_NAME = "1.0.0.127.in-addr.arpa"
ALL = ["spf", "spf_include", "mx", "dkim", "dmarc", "ptr", "mta_sts", "tls_rpt"]


@pytest.fixture
def own_nsd(make_nsd: Callable[..., NsdServer]) -> NsdServer:
    return make_nsd()  # the base zones, in a server of this test's own: zones change here


@pytest.fixture
def relay(
    tmp_path: Path, own_nsd: NsdServer, fresh_store: Callable[[], str | None]
) -> RelayProcess:
    """A relay (only its CLI runs) asking own_nsd, its fallback key published."""
    url = fresh_store()
    relay = RelayProcess(tmp_path / "relay", own_nsd.nameserver, free_port(), store_url=url).init()
    publish_keys(own_nsd, relay)
    return relay


def check_relay(relay: RelayProcess) -> dict[str, Any]:
    reports = relay.json("dns", "check", "--relay")
    assert len(reports) == 1, "one report, the shape of a shop's"
    assert set(reports[0]) >= {"domain", "ascii_domain", "results", "verified", "dns_trouble"}
    return reports[0]


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {r["check"]: r["status"] for r in report["results"]}


def _edit(nsd: NsdServer, origin: str, change: Callable[[dns.zone.Zone], None]) -> None:
    zone = dns.zone.from_text(nsd.zones[origin], origin=origin + ".", relativize=False)
    change(zone)
    nsd.set_zone(origin, f"$ORIGIN {origin}.\n" + zone.to_text(relativize=False))


def remove(nsd: NsdServer, origin: str, name: str, rdtype: str) -> None:
    _edit(nsd, origin, lambda zone: zone.delete_rdataset(name + ".", rdtype))


def replace_address(nsd: NsdServer, name: str, address: str) -> None:
    def change(zone: dns.zone.Zone) -> None:
        rdataset = zone.find_rdataset(name + ".", "A")
        rdataset.clear()
        rdataset.add(dns.rdata.from_text("IN", "A", address))

    _edit(nsd, NET, change)


def test_all_ok_when_everything_is_published(relay: RelayProcess) -> None:
    report = check_relay(relay)
    assert statuses(report) == dict.fromkeys(ALL, "ok"), report
    assert report["verified"] is True and report["dns_trouble"] is False
    assert all(r["action"] == "" for r in report["results"])
    ptr = next(r for r in report["results"] if r["check"] == "ptr")
    assert ptr["detail"]["results"] == [
        {
            "ip": "127.0.0.1",
            "reverse_name": PTR_NAME,
            "ptr": [HOST],
            "names_hostname": True,
            "forward_confirmed": True,
        }
    ]
    assert relay_dns_warnings(report) == []


# (origin, name, type removed; the check; its status; what the action must say)
MISSING = [
    (NET, BOUNCE, "TXT", "spf", "error", f"at {BOUNCE}: v=spf1 include:{INCLUDE} -all"),
    (NET, INCLUDE, "TXT", "spf_include", "error", f"at {INCLUDE}: v=spf1 ip4:127.0.0.1 -all"),
    (NET, BOUNCE, "MX", "mx", "error", f"publish this MX record at {BOUNCE}: 10 {HOST}"),
    (NET, f"_dmarc.{HOST}", "TXT", "dmarc", "warning", f"at _dmarc.{HOST}: v=DMARC1; p=none"),
    (REVERSE, PTR_NAME, "PTR", "ptr", "error", f"set PTR {PTR_NAME} {HOST}"),
    (NET, f"_mta-sts.{BOUNCE}", "TXT", "mta_sts", "optional", "v=STSv1; id=1"),
    (NET, f"_smtp._tls.{BOUNCE}", "TXT", "tls_rpt", "optional", f"rua=mailto:tlsrpt@{HOST}"),
]


@pytest.mark.parametrize(
    ("origin", "name", "rdtype", "check", "status", "says"),
    MISSING,
    ids=[f"{m[3]}-{m[2]}" for m in MISSING],
)
def test_each_missing_record_is_named_with_the_record_to_publish(
    relay: RelayProcess,
    own_nsd: NsdServer,
    origin: str,
    name: str,
    rdtype: str,
    check: str,
    status: str,
    says: str,
) -> None:
    remove(own_nsd, origin, name, rdtype)
    report = check_relay(relay)
    result = next(r for r in report["results"] if r["check"] == check)
    assert result["status"] == status, result
    assert says in result["action"], result["action"]
    # Without the include, the bounce domain's SPF (which includes it) fails with it.
    follows = {"spf"} if check == "spf_include" else set()
    others = {c: s for c, s in statuses(report).items() if c not in {check, *follows}}
    assert set(others.values()) == {"ok"}, others
    assert report["verified"] is (status != "error")
    if status in ("error", "warning"):
        assert f"relay DNS, {check}: {result['action']}" in relay_dns_warnings(report)


def test_missing_fallback_key_names_the_dkim_record(tmp_path: Path, own_nsd: NsdServer) -> None:
    relay = RelayProcess(tmp_path / "relay", own_nsd.nameserver, free_port()).init()
    report = check_relay(relay)  # relay._domainkey.relay.example.net never published
    dkim = next(r for r in report["results"] if r["check"] == "dkim")
    assert (dkim["status"], dkim["detail"]["reason"]) == ("error", "no-record")
    assert (
        f"publish this TXT record at relay._domainkey.{HOST}: v=DKIM1; k=rsa; p="
        in (dkim["action"])
    )


def test_reverse_dns_that_is_not_forward_confirmed(relay: RelayProcess, own_nsd: NsdServer) -> None:
    replace_address(own_nsd, HOST, "127.0.0.3")  # the EHLO name no longer resolves back
    ptr = next(r for r in check_relay(relay)["results"] if r["check"] == "ptr")
    assert ptr["status"] == "error"
    assert ptr["detail"]["results"][0]["forward_confirmed"] is False
    assert f"publish A {HOST} 127.0.0.1" in ptr["action"]


# --- the round trip: paste `relay dns show --relay` into zones that lack it ------------------


def _zone_of(name: str, origins: list[str]) -> str:
    return max((o for o in origins if name == o or name.endswith("." + o)), key=len)


def paste(nsd: NsdServer, records: list[dict[str, str]]) -> None:
    """What an operator does with `relay dns show --relay`: each record into its zone (the
    PTR one into the reverse zone, where the hosting provider would put it)."""
    for record in records:
        origin = _zone_of(record["name"], list(nsd.zones))
        value = record["value"]
        text = txt(value) if record["type"] == "TXT" else value
        if record["type"] in ("MX", "PTR", "CNAME"):
            text += "."
        rdata = dns.rdata.from_text(dns.rdataclass.IN, record["type"], text)

        def change(zone: dns.zone.Zone, name: str = record["name"], rdata: Any = rdata) -> None:
            zone.find_rdataset(name + ".", rdata.rdtype, create=True).add(rdata, 60)

        _edit(nsd, origin, change)


def test_show_relay_pasted_into_empty_zones_passes_the_check(
    relay: RelayProcess, own_nsd: NsdServer
) -> None:
    for origin, name, rdtype, *_ in MISSING[:5]:
        remove(own_nsd, origin, name, rdtype)
    before = statuses(check_relay(relay))
    assert {c for c, s in before.items() if s != "ok"} == {
        "spf",
        "spf_include",
        "mx",
        "dmarc",
        "ptr",
    }

    shown = relay.json("dns", "show", "--relay")
    assert [entry["domain"] for entry in shown] == [HOST]
    records = shown[0]["records"]
    by_need = {r["need"] for r in records}
    assert by_need == {"required", "recommended", "optional"}
    assert [(r["name"], r["type"]) for r in records if r["need"] == "optional"] == [
        (f"_mta-sts.{BOUNCE}", "TXT"),
        (f"_smtp._tls.{BOUNCE}", "TXT"),
    ]
    paste(own_nsd, [r for r in records if r["need"] != "optional"])
    after = check_relay(relay)
    assert statuses(after) == dict.fromkeys(ALL, "ok"), after
    assert after["verified"] is True


def test_exactly_one_of_shop_or_relay(relay: RelayProcess) -> None:
    for args in (["dns", "check"], ["dns", "show"], ["dns", "check", "mein-shop", "--relay"]):
        done = relay.run(*args, check=False)
        assert done.returncode == 2, done
        assert "name a SHOP or give --relay" in done.stderr


def test_missing_fallback_key_file_says_what_to_run(relay: RelayProcess) -> None:
    (relay.root / "var" / "dkim" / "fallback.pem").unlink()
    done = relay.run("dns", "check", "--relay", check=False)
    assert done.returncode == 1
    assert "fallback.pem is missing: run `relay init`" in done.stderr


# --- the stored result: `relay status` warns while a record is wrong (issue 13 item 11) ------


def relay_dns_lines(relay: RelayProcess) -> list[str]:
    return [w for w in relay.json("status")["relay_warnings"] if w.startswith("relay DNS")]


@pytest.mark.backends("sqlite", "postgresql")  # the stored result, overwritten by each check
def test_status_warns_about_each_wrong_record_until_a_check_finds_it_fixed(
    relay: RelayProcess, own_nsd: NsdServer
) -> None:
    assert relay_dns_lines(relay) == []  # never checked: nothing stored, nothing claimed
    saved = own_nsd.zones[REVERSE]
    remove(own_nsd, REVERSE, PTR_NAME, "PTR")
    remove(own_nsd, NET, BOUNCE, "MX")
    report = check_relay(relay)  # `dns check --relay` stores what it found
    actions = {r["check"]: r["action"] for r in report["results"]}
    assert relay_dns_lines(relay) == [
        f"relay DNS, mx: {actions['mx']}",
        f"relay DNS, ptr: {actions['ptr']}",
    ]
    shown = relay.run("status").stdout
    assert f"WARNING relay: relay DNS, mx: {actions['mx']}" in shown
    assert f"publish this MX record at {BOUNCE}: 10 {HOST}" in shown
    own_nsd.set_zone(REVERSE, saved)
    paste(own_nsd, [{"name": BOUNCE, "type": "MX", "value": f"10 {HOST}"}])
    check_relay(relay)
    assert relay_dns_lines(relay) == []


def test_relay_serve_checks_the_relays_records_and_stores_the_result(
    relay: RelayProcess, own_nsd: NsdServer
) -> None:
    remove(own_nsd, NET, INCLUDE, "TXT")
    relay.start()
    try:
        wait_until(lambda: relay_dns_lines(relay), 30, "relay serve's first DNS check")
        lines = relay_dns_lines(relay)
        assert any(line.startswith("relay DNS, spf_include: ") for line in lines), lines
        assert f"at {INCLUDE}: v=spf1 ip4:127.0.0.1 -all" in " ".join(lines)
    finally:
        relay.stop()
