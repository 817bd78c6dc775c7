"""The relay's own domains (issue 13 item 11), on MemoryResolver: every record right gives all
ok; each missing or wrong one is named with the record to publish; the status warning lines."""

import base64
import ipaddress
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dns_checks import (
    MemoryResolver,
    RelaySetup,
    Status,
    check_relay,
    relay_dns_warnings,
    relay_records,
    to_json,
)

HOST = "relay.example.net"
BOUNCE = "bounces.relay.example.net"
INCLUDE = "_spf.relay.example.net"
IPS = ("192.0.2.10", "2001:db8:10::25")
REVERSE6 = ipaddress.ip_address(IPS[1]).reverse_pointer


@pytest.fixture(scope="module")
def key_b64() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def setup(key_b64: str, ips: tuple[str, ...] = IPS) -> RelaySetup:
    return RelaySetup(HOST, BOUNCE, ips, INCLUDE, HOST, "relay", key_b64)


def published(key_b64: str) -> dict:
    return {
        INCLUDE: {"TXT": ["v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::25 -all"]},
        BOUNCE: {"MX": [(10, HOST)], "TXT": [f"v=spf1 include:{INCLUDE} -all"]},
        HOST: {"A": ["192.0.2.10"], "AAAA": ["2001:db8:10::25"]},
        "10.2.0.192.in-addr.arpa": {"PTR": [HOST]},
        REVERSE6: {"PTR": [HOST]},
        f"relay._domainkey.{HOST}": {"TXT": [f"v=DKIM1; k=rsa; p={key_b64}"]},
        f"_dmarc.{HOST}": {"TXT": ["v=DMARC1; p=quarantine"]},
        f"_mta-sts.{BOUNCE}": {"TXT": ["v=STSv1; id=20260101"]},
        f"mta-sts.{BOUNCE}": {"A": ["192.0.2.80"]},
        f"_smtp._tls.{BOUNCE}": {"TXT": [f"v=TLSRPTv1; rua=mailto:tlsrpt@{HOST}"]},
    }


CHECKS = ["spf", "spf_include", "mx", "dkim", "dmarc", "ptr", "mta_sts", "tls_rpt"]


def test_all_ok_when_everything_is_published(key_b64):
    report = check_relay(setup(key_b64), MemoryResolver(published(key_b64)))
    assert [(r.check, r.status) for r in report.results] == [(c, Status.OK) for c in CHECKS]
    assert report.verified is True and report.dns_trouble is False
    assert all(r.action == "" for r in report.results)
    assert relay_dns_warnings(json.loads(json.dumps(to_json(report)))) == []


def _without(records: dict, name: str, rtype: str | None = None) -> dict:
    records = {k: dict(v) for k, v in records.items()}
    if rtype is None:
        del records[name]
    else:
        del records[name][rtype]
    return records


# (what is removed, the check, its status, what its action must say: the name and record)
MISSING = [
    ((BOUNCE, "TXT"), "spf", Status.ERROR, f"at {BOUNCE}: v=spf1 include:{INCLUDE} -all"),
    (
        (INCLUDE, None),
        "spf_include",
        Status.ERROR,
        f"at {INCLUDE}: v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::25 -all",
    ),
    ((BOUNCE, "MX"), "mx", Status.ERROR, f"publish this MX record at {BOUNCE}: 10 {HOST}"),
    ((f"relay._domainkey.{HOST}", None), "dkim", Status.ERROR, f"at relay._domainkey.{HOST}: "),
    ((f"_dmarc.{HOST}", None), "dmarc", Status.WARNING, f"at _dmarc.{HOST}: v=DMARC1; p=none"),
    (
        ("10.2.0.192.in-addr.arpa", None),
        "ptr",
        Status.ERROR,
        f"set PTR 10.2.0.192.in-addr.arpa {HOST}",
    ),
    ((HOST, "AAAA"), "ptr", Status.ERROR, f"publish AAAA {HOST} 2001:db8:10::25"),
    (
        (f"_mta-sts.{BOUNCE}", None),
        "mta_sts",
        Status.OPTIONAL,
        f"at _mta-sts.{BOUNCE}: v=STSv1; id=1",
    ),
    (
        (f"_smtp._tls.{BOUNCE}", None),
        "tls_rpt",
        Status.OPTIONAL,
        f"at _smtp._tls.{BOUNCE}: v=TLSRPTv1; rua=mailto:tlsrpt@{HOST}",
    ),
]


@pytest.mark.parametrize(("removed", "check", "status", "says"), MISSING)
def test_each_missing_record_is_named_with_the_record_to_publish(
    key_b64, removed, check, status, says
):
    records = _without(published(key_b64), *removed)
    report = check_relay(setup(key_b64), MemoryResolver(records))
    result = report.result(check)
    assert result is not None and result.status == status, result
    assert says in result.action
    # Without the include, the bounce domain's SPF (which includes it) fails too, and says
    # where the fault is.
    follows = {"spf"} if check == "spf_include" else set()
    others = [r for r in report.results if r.check not in {check, *follows}]
    assert all(r.status == Status.OK for r in others), [(r.check, r.status) for r in others]
    assert report.verified is (status != Status.ERROR)
    warnings = relay_dns_warnings(to_json(report))
    if status == Status.OPTIONAL:
        assert warnings == []
    elif follows:
        assert "fix that record (spf_include)" in report.result("spf").action
        assert warnings[1] == f"relay DNS, {check}: {result.action}"
    else:
        assert warnings == [f"relay DNS, {check}: {result.action}"]


def test_ptr_that_names_another_host_is_an_error(key_b64):
    records = published(key_b64)
    records["10.2.0.192.in-addr.arpa"] = {"PTR": ["static-10.hoster.example"]}
    result = check_relay(setup(key_b64), MemoryResolver(records)).result("ptr")
    assert result.status == Status.ERROR
    assert "names static-10.hoster.example, not the EHLO name relay.example.net" in result.action
    entry = result.detail["results"][0]
    assert (entry["names_hostname"], entry["forward_confirmed"]) == (False, True)


def test_no_sending_ips_cannot_be_checked(key_b64):
    report = check_relay(setup(key_b64, ()), MemoryResolver(published(key_b64)))
    statuses = {r.check: r.status for r in report.results}
    assert statuses["ptr"] == statuses["spf"] == statuses["spf_include"] == Status.WARNING
    assert "delivery.sending_ips" in report.result("ptr").action


def test_a_broken_mta_sts_record_is_a_warning(key_b64):
    records = published(key_b64)
    records[f"_mta-sts.{BOUNCE}"] = {"TXT": ["v=STSv1; id=not-alnum!"]}
    del records[f"mta-sts.{BOUNCE}"]
    result = check_relay(setup(key_b64), MemoryResolver(records)).result("mta_sts")
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "syntax")


def test_dns_trouble_is_unknown_and_warned(key_b64):
    report = check_relay(setup(key_b64), MemoryResolver(published(key_b64), [BOUNCE]))
    assert report.dns_trouble is True and report.verified is False
    assert relay_dns_warnings(to_json(report))[-1].startswith("relay DNS could not be checked")


def test_the_check_needs_the_fallback_key():
    with pytest.raises(ValueError, match="fallback DKIM public key"):
        check_relay(RelaySetup(HOST, BOUNCE, IPS, INCLUDE, HOST, "relay"), MemoryResolver())


def test_relay_records_list_what_to_publish(key_b64):
    resolver = MemoryResolver({BOUNCE: {"TXT": ["v=spf1 mx -all"]}})
    records = relay_records(setup(key_b64), resolver)
    got = [(r.name, r.type, r.value, r.need) for r in records]
    assert got == [
        (BOUNCE, "TXT", f"v=spf1 mx include:{INCLUDE} -all", "required"),  # merged, never two
        (INCLUDE, "TXT", "v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::25 -all", "required"),
        (BOUNCE, "MX", f"10 {HOST}", "required"),
        (f"relay._domainkey.{HOST}", "TXT", f"v=DKIM1; k=rsa; p={key_b64}", "required"),
        (f"_dmarc.{HOST}", "TXT", "v=DMARC1; p=none", "recommended"),
        ("10.2.0.192.in-addr.arpa", "PTR", HOST, "required"),
        (HOST, "A", "192.0.2.10", "required"),
        (REVERSE6, "PTR", HOST, "required"),
        (HOST, "AAAA", "2001:db8:10::25", "required"),
        (f"_mta-sts.{BOUNCE}", "TXT", "v=STSv1; id=1", "optional"),
        (f"_smtp._tls.{BOUNCE}", "TXT", f"v=TLSRPTv1; rua=mailto:tlsrpt@{HOST}", "optional"),
    ]
    assert "hosting provider" in records[5].note


def test_relay_records_say_when_the_current_spf_could_not_be_read(key_b64):
    records = relay_records(setup(key_b64), MemoryResolver(temporary=[BOUNCE, INCLUDE]))
    assert [r.value for r in records[:2]] == [
        f"v=spf1 include:{INCLUDE} -all",
        "v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::25 -all",
    ]
    assert all("could not be read (DNS error)" in r.note for r in records[:2])
