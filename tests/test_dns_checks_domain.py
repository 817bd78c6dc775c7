"""check_domain: the verdict (verified, dns_trouble), mailbox domains, IDN, JSON, the leaf rule."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dns_checks import (
    MemoryResolver,
    RelaySetup,
    Status,
    check_domain,
    is_public_mailbox_domain,
    to_ascii_domain,
    to_json,
)
from dns_checks.mailbox_domains import mailbox_domains, parse_domain_list

INCLUDE = "_spf.relay.example.net"
IPS = ("192.0.2.10", "2001:db8:10::25")
RELAY = RelaySetup(
    hostname="relay.example.net",
    bounce_domain="bounces.relay.example.net",
    sending_ips=IPS,
    spf_include=INCLUDE,
)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def key_b64() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def published(domain: str, key_b64: str, spf: str | None = None, dmarc: str | None = None) -> dict:
    records = {
        INCLUDE: {"TXT": ["v=spf1 ip4:192.0.2.10 ip6:2001:db8:10::/48 -all"]},
        "bounces.relay.example.net": {
            "MX": [(10, "relay.example.net")],
            "TXT": [f"v=spf1 include:{INCLUDE} -all"],
        },
        domain: {"TXT": [spf or f"v=spf1 mx include:{INCLUDE} ~all"], "MX": [(10, "mx." + domain)]},
        "mx." + domain: {"A": ["192.0.2.25"]},
        f"s1._domainkey.{domain}": {"TXT": [f"v=DKIM1; k=rsa; p={key_b64}"]},
    }
    if dmarc:
        records[f"_dmarc.{domain}"] = {"TXT": [dmarc]}
    return records


def run(domain, key_b64, resolver, ips=IPS, **kw):
    relay = RelaySetup(RELAY.hostname, RELAY.bounce_domain, tuple(ips), INCLUDE)
    return check_domain(domain, "s1", key_b64, relay, resolver, **kw)


def test_verified_domain(key_b64):
    resolver = MemoryResolver(published("mein-shop.de", key_b64, dmarc="v=DMARC1; p=reject"))
    report = run("mein-shop.de", key_b64, resolver)
    assert [(r.check, r.status) for r in report.results] == [
        ("dkim", Status.OK),
        ("dmarc", Status.OK),
        ("return_path", Status.OPTIONAL),
        ("spf", Status.OPTIONAL),
    ]
    assert report.verified is True
    assert report.dns_trouble is False
    assert report.return_path is None  # not published: the relay's own bounce domain
    assert report.result("dkim").detail["key_matches"] is True


def test_missing_dmarc_does_not_block_verification(key_b64):
    report = run("mein-shop.de", key_b64, MemoryResolver(published("mein-shop.de", key_b64)))
    assert report.result("dmarc").status == Status.WARNING
    assert report.verified is True


@pytest.mark.parametrize(
    "spf", ["v=spf1 mx ~all", "v=spf1 -all", "v=spf1 mx include:a.example include:a.example"]
)
def test_the_shops_own_spf_record_plays_no_part(key_b64, spf):
    """Issue 13 item 7: receivers evaluate SPF for the envelope sender, which is at the
    relay's bounce domain, so an SPF record at the shop's domain that fails for the relay
    (or is broken) no longer blocks verification, and is not even asked for."""
    resolver = MemoryResolver(published("mein-shop.de", key_b64, spf=spf))
    report = run("mein-shop.de", key_b64, resolver)
    assert report.verified is True
    assert ("mein-shop.de", "TXT") not in resolver.queries


def test_reject_dmarc_on_an_unverified_domain(key_b64):
    records = published("mein-shop.de", key_b64, dmarc="v=DMARC1; p=reject")
    del records["s1._domainkey.mein-shop.de"]
    report = run("mein-shop.de", key_b64, MemoryResolver(records))
    assert report.verified is False
    assert report.result("dmarc").detail["reason"] == "reject-unverified"


def test_no_sending_ips_does_not_block_verification(key_b64):
    report = run("mein-shop.de", key_b64, MemoryResolver(published("mein-shop.de", key_b64)), [])
    assert report.result("dkim").status == Status.OK
    assert report.verified is True


def test_dns_trouble_is_reported_so_the_caller_keeps_its_verdict(key_b64):
    records = published("mein-shop.de", key_b64)
    resolver = MemoryResolver(records, temporary=["s1._domainkey.mein-shop.de"])
    report = run("mein-shop.de", key_b64, resolver)
    assert report.result("dkim").status == Status.UNKNOWN
    assert report.dns_trouble is True
    assert report.verified is False


@pytest.mark.parametrize("domain", ["gmail.com", "GMX.de", "web.de.", "t-online.de", "outlook.com"])
def test_public_mailbox_domain_is_one_error_without_dns(key_b64, domain):
    resolver = MemoryResolver()
    report = run(domain, key_b64, resolver)
    assert len(report.results) == 1
    result = report.results[0]
    assert (result.check, result.status) == ("domain", Status.ERROR)
    assert result.detail["reason"] == "public-mailbox-domain"
    assert "use an address at your shop's own domain" in result.action
    assert (report.verified, report.dns_trouble) == (False, False)
    assert resolver.queries == []


def test_not_a_domain_is_one_error_without_dns(key_b64):
    resolver = MemoryResolver()
    report = run("mein shop", key_b64, resolver)
    assert [(r.check, r.detail["reason"]) for r in report.results] == [("domain", "invalid-domain")]
    assert resolver.queries == []


def test_idn_domain_is_checked_under_its_a_label(key_b64):
    ascii_domain = "xn--mller-shop-9db.de"
    assert to_ascii_domain("Müller-Shop.de") == ascii_domain
    report = run("müller-shop.de", key_b64, MemoryResolver(published(ascii_domain, key_b64)))
    assert report.domain == "müller-shop.de"
    assert report.ascii_domain == ascii_domain
    assert report.verified is True
    assert report.result("dkim").detail["record_name"] == f"s1._domainkey.{ascii_domain}"


def test_from_domain_changes_dmarc_and_alignment(key_b64):
    records = published("mein-shop.de", key_b64, dmarc="v=DMARC1; p=none")
    relaxed = run("mein-shop.de", key_b64, MemoryResolver(records), from_domain="news.mein-shop.de")
    assert relaxed.verified is True  # the same organizational domain aligns (relaxed)
    records["_dmarc.mein-shop.de"] = {"TXT": ["v=DMARC1; p=reject; adkim=s"]}
    strict = run("mein-shop.de", key_b64, MemoryResolver(records), from_domain="news.mein-shop.de")
    assert strict.result("dmarc").detail["reason"] == "not-aligned"
    # d=mein-shop.de does not align with From news.mein-shop.de under adkim=s: signing as
    # the shop would fail DMARC, so the domain is not verified (the fallback goes out).
    assert strict.verified is False


def test_to_json_is_plain_json(key_b64):
    report = run("mein-shop.de", key_b64, MemoryResolver(published("mein-shop.de", key_b64)))
    data = json.loads(json.dumps(to_json(report)))
    assert data["domain"] == "mein-shop.de"
    assert data["verified"] is True
    assert data["return_path"] is None
    assert [r["status"] for r in data["results"]] == ["ok", "warning", "optional", "optional"]
    assert set(data["results"][0]) == {"check", "status", "found", "expected", "action", "detail"}


def test_mailbox_data_file_is_clean():
    domains = mailbox_domains()
    assert {"gmail.com", "gmx.de", "web.de", "t-online.de", "proton.me"} <= set(domains)
    assert all(d == d.lower().strip() and "." in d and not d.endswith(".") for d in domains)
    assert all(to_ascii_domain(d) == d for d in domains)
    assert len(domains) == len(set(domains))
    assert parse_domain_list("# c\n Gmail.COM. # x\n\ngmail.com\n") == ("gmail.com",)
    assert is_public_mailbox_domain("GoogleMail.com.")
    assert not is_public_mailbox_domain("mein-shop.de")


def test_dns_checks_imports_nothing_of_ours():
    code = (
        "import sys, dns_checks, dns_checks.checks, dns_checks.typos;"
        "ours = [m for m in sys.modules if m.split('.')[0] in ('relay', 'config', 'bounces')];"
        "print(ours); sys.exit(1 if ours else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_from_domain_is_one_error_without_dns(key_b64):
    resolver = MemoryResolver(published("mein-shop.de", key_b64))
    report = run("mein-shop.de", key_b64, resolver, from_domain="news mein-shop")
    assert [(r.check, r.detail["reason"]) for r in report.results] == [("domain", "invalid-domain")]
    assert report.results[0].found == "news mein-shop"
    assert "From address" in report.results[0].action
    assert (report.verified, report.dns_trouble) == (False, False)
    assert resolver.queries == []


def test_published_key_of_an_unknown_type_is_a_dkim_error_not_an_exception(key_b64):
    # A SubjectPublicKeyInfo whose algorithm OID (1.2.3.4) cryptography does not know.
    spki = bytes.fromhex("300c") + bytes.fromhex("300506032a0304") + bytes.fromhex("0303000102")
    records = published("mein-shop.de", key_b64)
    records["s1._domainkey.mein-shop.de"] = {
        "TXT": [f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"]
    }
    report = run("mein-shop.de", key_b64, MemoryResolver(records))
    assert report.result("dkim").status == Status.ERROR
    assert report.verified is False
