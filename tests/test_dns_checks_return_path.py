"""The custom return path (issue 13 item 5, DNS side): bounces.<shop domain> routed to the relay
with SPF for the relay there; usable only when both hold and the shop is verified."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dns_checks import MemoryResolver, RelaySetup, Status, check_domain
from dns_checks.return_path import check_return_path

INCLUDE = "_spf.relay.example.net"
BOUNCE = "bounces.relay.example.net"
RELAY = RelaySetup("relay.example.net", BOUNCE, ("192.0.2.10", "2001:db8:10::25"), INCLUDE)
SHOP = "mein-shop.de"
NAME = "bounces.mein-shop.de"


def relay_side(**extra: dict) -> dict:
    """What the relay's operator publishes: the include, and the bounce domain's MX and SPF."""
    return {
        INCLUDE: {"TXT": ["v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::/48 -all"]},
        BOUNCE: {"MX": [(10, "relay.example.net")], "TXT": [f"v=spf1 include:{INCLUDE} -all"]},
        "relay.example.net": {"A": ["192.0.2.10"]},
        SHOP: {"MX": [(10, "mx.mein-shop.de")]},
        **extra,
    }


def check(records: dict, **kw):  # type: ignore[no-untyped-def]
    resolver = MemoryResolver(records, kw.pop("temporary", ()))
    route, spf = check_return_path(SHOP, RELAY, resolver, **kw)
    return route, spf, resolver


def test_cname_to_the_bounce_domain_is_usable_and_spf_passes_through_it():
    route, spf, _ = check(relay_side(**{NAME: {"CNAME": BOUNCE}}))
    assert (route.status, route.detail["reason"]) == (Status.OK, "cname")
    assert route.detail["usable"] is True and route.action == ""
    assert route.found == f"CNAME {BOUNCE} | MX 10 relay.example.net"
    assert (spf.status, spf.detail["reason"]) == (Status.OK, "pass")
    assert spf.detail["record_name"] == NAME
    assert [r["spf_result"] for r in spf.detail["results"]] == ["pass", "pass"]


def test_mx_and_spf_record_is_usable():
    records = relay_side(
        **{NAME: {"MX": [(10, "relay.example.net")], "TXT": [f"v=spf1 include:{INCLUDE} -all"]}}
    )
    route, spf, _ = check(records)
    assert (route.detail["reason"], spf.detail["reason"]) == ("mx", "pass")
    assert route.detail["usable"] is True


def test_an_mx_to_another_of_the_bounce_domains_mx_hosts_counts():
    records = relay_side(
        **{NAME: {"MX": [(10, "in2.relay.example.net")], "TXT": [f"v=spf1 include:{INCLUDE} -all"]}}
    )
    records[BOUNCE]["MX"].append((20, "in2.relay.example.net"))
    route, _, _ = check(records)
    assert route.detail["reason"] == "mx"


def test_not_published_is_optional_and_says_what_it_gives():
    route, spf, resolver = check(relay_side())
    assert (route.status, route.detail["reason"]) == (Status.OPTIONAL, "not-published")
    assert (spf.status, spf.detail["reason"]) == (Status.OPTIONAL, "not-published")
    assert "DMARC passes on SPF as well as on DKIM" in route.action
    assert route.action.endswith(
        f"publish at {NAME}: CNAME {BOUNCE} (or MX 10 relay.example.net and TXT "
        f'"v=spf1 include:{INCLUDE} -all")'
    )
    assert route.detail["usable"] is False
    assert resolver.queries == [(NAME, "CNAME")]  # nothing else asked about a name not there


def test_mx_without_spf_is_a_warning_naming_the_record_to_publish():
    route, spf, _ = check(relay_side(**{NAME: {"MX": [(10, "relay.example.net")]}}))
    assert route.status == Status.OK
    assert (spf.status, spf.detail["reason"]) == (Status.WARNING, "none")
    assert spf.action.endswith(f"publish this TXT record at {NAME}: v=spf1 include:{INCLUDE} -all")
    assert route.detail["usable"] is False


def test_spf_that_fails_at_the_return_path_is_a_warning_not_an_error():
    records = relay_side(
        **{NAME: {"MX": [(10, "relay.example.net")], "TXT": ["v=spf1 ip4:198.51.100.1 ~all"]}}
    )
    _, spf, _ = check(records)
    assert (spf.status, spf.detail["reason"]) == (Status.WARNING, "softfail")
    assert f"v=spf1 ip4:198.51.100.1 include:{INCLUDE} ~all" in spf.action


@pytest.mark.parametrize(
    ("published", "reason", "words"),
    [
        ({"CNAME": "bounces.elsewhere.example"}, "wrong-cname", "not of the relay's bounce domain"),
        ({"MX": [(10, "mx.elsewhere.example")]}, "wrong-mx", "is mx.elsewhere.example, not the"),
        ({"MX": [(0, ".")]}, "null-mx", "null MX"),
        ({"TXT": [f"v=spf1 include:{INCLUDE} -all"]}, "no-mx", "neither a CNAME nor an MX"),
    ],
)
def test_routes_that_miss_the_relay_are_warnings_with_the_cname_to_publish(
    published, reason, words
):
    records = relay_side(**{NAME: published, "bounces.elsewhere.example": {"A": ["192.0.2.99"]}})
    route, _, _ = check(records)
    assert (route.status, route.detail["reason"]) == (Status.WARNING, reason)
    assert words in route.action
    assert route.action.endswith(f"publish at {NAME}: CNAME {BOUNCE}")
    assert route.detail["usable"] is False


def test_cname_to_a_bounce_domain_without_spf_is_the_relay_operators_problem():
    records = relay_side(**{NAME: {"CNAME": BOUNCE}})
    records[BOUNCE]["TXT"] = []
    route, spf, _ = check(records)
    assert route.status == Status.OK
    assert spf.status == Status.WARNING
    assert "tell the relay's operator (`relay dns check --relay`" in spf.action
    assert route.detail["usable"] is False


def test_strict_spf_alignment_makes_the_return_path_pointless():
    route, _, _ = check(relay_side(**{NAME: {"CNAME": BOUNCE}}), aspf="s")
    assert (route.status, route.detail["reason"]) == (Status.WARNING, "strict-spf-alignment")
    assert route.detail["spf_aligned"] is False
    assert "aspf=s" in route.action


def test_dns_trouble_is_unknown():
    route, spf, _ = check(relay_side(), temporary=[NAME])
    assert (route.status, spf.status) == (Status.UNKNOWN, Status.UNKNOWN)


# --- in the report: `return_path` is set only for a verified shop with a usable path --------


@pytest.fixture(scope="module")
def key_b64() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def test_report_names_the_return_path_of_a_verified_shop(key_b64):
    records = relay_side(
        **{NAME: {"CNAME": BOUNCE}, f"s1._domainkey.{SHOP}": {"TXT": [f"v=DKIM1; p={key_b64}"]}}
    )
    report = check_domain(SHOP, "s1", key_b64, RELAY, MemoryResolver(records))
    assert report.verified is True
    assert report.return_path == NAME
    assert [r.check for r in report.results] == ["dkim", "dmarc", "return_path", "spf"]


def test_no_return_path_for_an_unverified_shop(key_b64):
    records = relay_side(**{NAME: {"CNAME": BOUNCE}})
    report = check_domain(SHOP, "s1", key_b64, RELAY, MemoryResolver(records))
    assert report.result("return_path").detail["usable"] is True
    assert (report.verified, report.return_path) == (False, None)


def test_no_return_path_during_dns_trouble(key_b64):
    records = relay_side(
        **{NAME: {"CNAME": BOUNCE}, f"s1._domainkey.{SHOP}": {"TXT": [f"v=DKIM1; p={key_b64}"]}}
    )
    report = check_domain(SHOP, "s1", key_b64, RELAY, MemoryResolver(records, [f"_dmarc.{SHOP}"]))
    assert report.dns_trouble is True
    assert report.return_path is None
