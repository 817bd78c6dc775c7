"""SPF evaluated for real by pyspf, through our Resolver (here: MemoryResolver)."""

import threading

import pytest
import spf as pyspf

from dns_checks import MemoryResolver, Status
from dns_checks.spf import check_spf
from dns_checks.spf_parse import replace_all_term

INCLUDE = "_spf.relay.example.net"
RELAY_SPF = "v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::/48 -all"
OTHER_SPF = "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:99::/48 ~all"  # a provider that is not us
IPS = ["192.0.2.10", "2001:db8:10::25"]
DOMAIN = "mein-shop.de"


def resolver_with(shop_txt: list[str] | None = None, extra: dict | None = None, temporary=()):
    records = {
        INCLUDE: {"TXT": [RELAY_SPF]},
        "_spf.google.com": {"TXT": [OTHER_SPF]},
        **(extra or {}),
    }
    if shop_txt is not None:
        records[DOMAIN] = {"TXT": shop_txt, **records.get(DOMAIN, {})}
    return MemoryResolver(records, temporary=temporary)


def check(resolver, ips=IPS):
    return check_spf(DOMAIN, ips, INCLUDE, resolver)


def test_pass_for_every_ip():
    result = check(resolver_with([f"v=spf1 include:{INCLUDE} ~all", "google-site-verification=x"]))
    assert result.status == Status.OK
    assert result.action == ""
    assert result.found == f"v=spf1 include:{INCLUDE} ~all"
    assert result.detail["all_pass"] is True
    assert [r["spf_result"] for r in result.detail["results"]] == ["pass", "pass"]
    assert result.detail["results"][0]["mechanism"] == f"include:{INCLUDE}"


def test_chain_of_includes_reaching_the_relay_passes():
    result = check(
        resolver_with(
            ["v=spf1 include:_spf.shophost.example -all"],
            {
                "_spf.shophost.example": {"TXT": ["v=spf1 include:_mail.shophost.example -all"]},
                "_mail.shophost.example": {"TXT": [f"v=spf1 include:{INCLUDE} -all"]},
            },
        )
    )
    assert result.status == Status.OK
    assert result.expected == result.found  # nothing to add: it already works


def test_softfail_says_why_and_what_to_publish():
    result = check(resolver_with(["v=spf1 include:_spf.google.com ~all"]))
    assert result.status == Status.ERROR
    assert result.detail["reason"] == "softfail"
    assert result.expected == f"v=spf1 include:_spf.google.com include:{INCLUDE} ~all"
    assert result.action.startswith(
        f"Your SPF record ends in ~all and does not include {INCLUDE}, so receivers treat"
    )
    assert "192.0.2.10 and 2001:db8:10::25" in result.action
    assert result.action.endswith(result.expected)


def test_fail():
    result = check(resolver_with(["v=spf1 mx -all"], {DOMAIN: {"MX": []}}))
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "fail")
    assert "ends in -all" in result.action
    assert "reject" in result.action


def test_neutral():
    result = check(resolver_with(["v=spf1 ?all"]))
    assert result.detail["reason"] == "neutral"
    assert "proves nothing" in result.action
    assert result.expected == f"v=spf1 include:{INCLUDE} ?all"


def test_none_when_there_is_no_record():
    result = check(resolver_with(["some other text"]))
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "none")
    assert result.found == "no record"
    assert result.expected == f"v=spf1 include:{INCLUDE} ~all"
    assert "has no SPF record" in result.action


def test_none_when_the_domain_does_not_exist():
    result = check(resolver_with())
    assert result.detail["reason"] == "none"


def test_several_records_are_a_permerror_with_the_merged_record():
    result = check(resolver_with(["v=spf1 mx ~all", "v=spf1 include:_spf.google.com -all"]))
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "several-records")
    merged = f"v=spf1 mx include:_spf.google.com include:{INCLUDE} ~all"
    assert result.expected == merged
    assert f"publish exactly one SPF record; merge them into: {merged}" in result.action
    assert result.found == "v=spf1 mx ~all | v=spf1 include:_spf.google.com -all"


def test_more_than_ten_lookups_through_an_include_chain_is_a_permerror():
    # RFC 7208 §4.6.4: 11 lookups (l0 ... l9, then the relay), although it reaches the relay.
    chain = {f"l{n}.example": {"TXT": [f"v=spf1 include:l{n + 1}.example -all"]} for n in range(9)}
    chain["l9.example"] = {"TXT": [f"v=spf1 include:{INCLUDE} -all"]}
    result = check(resolver_with(["v=spf1 include:l0.example -all"], chain))
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "permerror")
    assert "more than 10 DNS lookups" in result.action
    assert "permerror" in result.action


def test_ten_lookups_are_still_fine():
    chain = {f"l{n}.example": {"TXT": [f"v=spf1 include:l{n + 1}.example -all"]} for n in range(8)}
    chain["l8.example"] = {"TXT": [f"v=spf1 include:{INCLUDE} -all"]}
    result = check(resolver_with(["v=spf1 include:l0.example -all"], chain))
    assert result.status == Status.OK


def test_more_than_two_void_lookups_is_a_permerror():
    shop = f"v=spf1 a:nx1.example a:nx2.example a:nx3.example include:{INCLUDE} -all"
    result = check(resolver_with([shop]))
    assert result.detail["reason"] == "permerror"
    assert "more than 2 of the names it looks up do not exist" in result.action


def test_include_without_spf_record_is_a_permerror():
    result = check(resolver_with([f"v=spf1 include:gone.example include:{INCLUDE} -all"]))
    assert result.detail["reason"] == "permerror"
    assert "it includes gone.example, which has no SPF record" in result.action


def test_unknown_mechanism_is_a_permerror():
    result = check(resolver_with([f"v=spf1 include:{INCLUDE} ipv4:192.0.2.1 -all"]))
    assert result.detail["reason"] == "permerror"
    assert "ipv4:192.0.2.1" in result.action


def test_redirect_is_followed():
    passing = check(resolver_with([f"v=spf1 redirect={INCLUDE}"]))
    assert passing.status == Status.OK
    failing = check(
        resolver_with(
            ["v=spf1 redirect=_spf.shophost.example"],
            {"_spf.shophost.example": {"TXT": ["v=spf1 ip4:198.51.100.0/24 ~all"]}},
        )
    )
    assert failing.detail["reason"] == "softfail"
    assert "hands over to _spf.shophost.example (redirect=)" in failing.action
    assert failing.expected == f"v=spf1 include:{INCLUDE} redirect=_spf.shophost.example"


def test_a_and_mx_mechanisms_resolve_through_our_resolver():
    extra = {
        DOMAIN: {"MX": [(10, "mx.mein-shop.de")]},
        "mx.mein-shop.de": {"A": ["192.0.2.10"], "AAAA": ["2001:db8:10::25"]},
    }
    assert check(resolver_with(["v=spf1 mx -all"], extra)).status == Status.OK
    extra = {"out.mein-shop.de": {"A": ["192.0.2.10"], "AAAA": ["2001:db8:10::25"]}}
    assert check(resolver_with(["v=spf1 a:out.mein-shop.de -all"], extra)).status == Status.OK


def test_macros_are_expanded():
    extra = {"10.2.0.192.allowed.relay.example.net": {"A": ["127.0.0.2"]}}
    shop = ["v=spf1 exists:%{ir}.allowed.relay.example.net -all"]
    assert check(resolver_with(shop, extra), ["192.0.2.10"]).status == Status.OK
    assert check(resolver_with(shop, extra), ["192.0.2.11"]).detail["reason"] == "fail"


def test_ptr_mechanism_uses_the_resolvers_ptr():
    extra = {
        "10.2.0.192.in-addr.arpa": {"PTR": ["out.relay.example.net"]},
        "out.relay.example.net": {"A": ["192.0.2.10"]},
    }
    shop = ["v=spf1 ptr:relay.example.net -all"]
    assert check(resolver_with(shop, extra), ["192.0.2.10"]).status == Status.OK

    # RFC 7208 §5.5: no PTR answer means the mechanism does not match.
    del extra["10.2.0.192.in-addr.arpa"]
    result = check(resolver_with(shop, extra), ["192.0.2.10"])
    assert result.detail["reason"] == "fail"


def test_only_the_failing_addresses_are_named():
    result = check(resolver_with(["v=spf1 ip4:192.0.2.10 -all"]))
    assert [r["spf_result"] for r in result.detail["results"]] == ["pass", "fail"]
    assert "(2001:db8:10::25)" in result.action


def test_relay_include_that_misses_an_address_is_the_relays_problem():
    result = check(resolver_with([f"v=spf1 include:{INCLUDE} -all"]), ["192.0.2.99"])
    assert result.detail["reason"] == "fail"
    assert "tell the relay's operator" in result.action


def test_temperror_is_unknown():
    result = check(
        resolver_with(["v=spf1 include:_spf.slow.example ~all"], temporary=["_spf.slow.example"])
    )
    assert (result.status, result.detail["reason"]) == (Status.UNKNOWN, "temperror")


def test_dns_trouble_on_the_record_itself_is_unknown():
    result = check(resolver_with(["v=spf1 -all"], temporary=[DOMAIN]))
    assert (result.status, result.detail["reason"]) == (Status.UNKNOWN, "dns-error")


def test_a_definite_failure_wins_over_dns_trouble():
    shop = ["v=spf1 ip4:198.51.100.1 include:_spf.slow.example -all"]
    result = check(resolver_with(shop, temporary=["_spf.slow.example"]))
    assert result.status == Status.UNKNOWN  # the include could have listed us
    shop = ["v=spf1 -ip4:192.0.2.10 include:_spf.slow.example -all"]
    result = check(resolver_with(shop, temporary=["_spf.slow.example"]), ["192.0.2.10"])
    assert result.detail["reason"] == "fail"


def test_no_sending_ips_is_a_warning_that_cannot_pass():
    result = check(resolver_with(["v=spf1 mx ~all"]), [])
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "no-sending-ips")
    assert result.detail["all_pass"] is False
    assert f"change your SPF record to: v=spf1 mx include:{INCLUDE} ~all" in result.action


def test_a_sending_ip_that_is_not_an_address_is_an_error():
    result = check(resolver_with([f"v=spf1 include:{INCLUDE} ~all"]), ["relay.example.net"])
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "bad-sending-ip")


def test_plus_all_passes_but_warns():
    result = check(resolver_with(["v=spf1 +all"]))
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "plus-all")
    assert result.detail["all_pass"] is True
    assert result.expected == "v=spf1 ~all"


def test_evaluation_leaves_pyspf_globals_alone_and_is_thread_safe():
    dns_lookup = pyspf.DNSLookup
    good = resolver_with([f"v=spf1 include:{INCLUDE} -all"])
    bad = resolver_with(["v=spf1 -all"])
    outcomes: dict[str, list[str]] = {"good": [], "bad": []}

    def run(name, resolver):
        for _ in range(20):
            outcomes[name].append(check(resolver).detail["reason"])

    threads = [threading.Thread(target=run, args=item) for item in [("good", good), ("bad", bad)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes["good"]) == {"pass"}
    assert set(outcomes["bad"]) == {"fail"}
    assert pyspf.DNSLookup is dns_lookup


@pytest.mark.parametrize("ip", ["192.0.2.10", "2001:db8:10::25"])
def test_lookups_use_only_the_given_resolver(ip):
    resolver = resolver_with([f"v=spf1 include:{INCLUDE} -all"])
    check(resolver, [ip])
    assert (INCLUDE, "TXT") in resolver.queries


@pytest.mark.parametrize("written", ["all", "+ALL", "+All"])
def test_plus_all_fix_rewrites_the_all_term_however_it_is_written(written):
    record = f"v=spf1 include:{INCLUDE} {written}"
    result = check(resolver_with([record]))
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "plus-all")
    assert result.expected == f"v=spf1 include:{INCLUDE} ~all"
    assert result.expected != result.found


def test_replace_all_term_only_touches_the_first_all():
    assert replace_all_term("v=spf1 include:x all", "~all") == "v=spf1 include:x ~all"
    assert replace_all_term("v=spf1 mx +ALL -all", "~all") == "v=spf1 mx ~all -all"
    assert replace_all_term("v=spf1 mx allx redirect=x", "~all") == "v=spf1 mx allx redirect=x"
