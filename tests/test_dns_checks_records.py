"""What a shop must publish: dkim_record, spf_record, dmarc_suggestion, records_to_publish."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dns_checks import (
    DnsRecord,
    InvalidDomain,
    MemoryResolver,
    RelaySetup,
    dkim_record,
    dmarc_suggestion,
    records_to_publish,
    return_path_record,
    spf_record,
)

INCLUDE = "_spf.relay.example.net"
RELAY = RelaySetup("relay.example.net", "bounces.relay.example.net", ("192.0.2.10",), INCLUDE)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()


def _b64(key: rsa.RSAPublicKey, fmt: serialization.PublicFormat) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER, fmt)).decode()


@pytest.fixture(scope="module")
def key_b64(rsa_key) -> str:
    return _b64(rsa_key, serialization.PublicFormat.SubjectPublicKeyInfo)


# --- spf_record ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (
            "v=spf1 include:_spf.google.com ~all",
            f"v=spf1 include:_spf.google.com include:{INCLUDE} ~all",
        ),
        ("v=spf1 mx -all", f"v=spf1 mx include:{INCLUDE} -all"),
        ("v=spf1 a mx", f"v=spf1 a mx include:{INCLUDE}"),
        (
            "v=spf1 redirect=_spf.shophost.example",
            f"v=spf1 include:{INCLUDE} redirect=_spf.shophost.example",
        ),
        (
            "v=spf1 ip4:192.0.2.1 exp=why.example ?all",
            f"v=spf1 ip4:192.0.2.1 exp=why.example include:{INCLUDE} ?all",
        ),
        # An include after "all" is never evaluated (RFC 7208 §5.1): move it before.
        ("v=spf1 ~all include:_spf.relay.example.net", f"v=spf1 include:{INCLUDE} ~all"),
    ],
)
def test_spf_record_inserts_include_before_all_or_redirect(existing, expected):
    record = spf_record(existing, INCLUDE)
    assert record.value == expected
    assert record.type == "TXT"
    assert "Replaces the current SPF record" in record.note


@pytest.mark.parametrize(
    "existing",
    [
        f"v=spf1 include:{INCLUDE} ~all",
        f"v=spf1 +include:{INCLUDE} -all",
        "v=spf1 include:_SPF.Relay.Example.NET. ~all",
    ],
)
def test_spf_record_already_including_is_unchanged(existing):
    record = spf_record(existing, INCLUDE)
    assert record.value == existing
    assert "nothing to change" in record.note


def test_spf_record_new_uses_softfail():
    record = spf_record(None, INCLUDE, "mein-shop.de")
    assert record == DnsRecord("mein-shop.de", "TXT", f"v=spf1 include:{INCLUDE} ~all", record.note)
    assert spf_record(None, INCLUDE).name == "@"


def test_spf_record_for_a_name_only_the_relay_sends_from_ends_in_fail():
    record = spf_record(None, INCLUDE, "bounces.relay.example.net", final="-all")
    assert record.value == f"v=spf1 include:{INCLUDE} -all"


# --- dkim_record ---------------------------------------------------------------------


def test_dkim_record_name_and_value(key_b64):
    record = dkim_record("Mein-Shop.de", "relay2024", key_b64)
    assert record.name == "relay2024._domainkey.mein-shop.de"
    assert record.value == f"v=DKIM1; k=rsa; p={key_b64}"


def test_dkim_record_publishes_pkcs1_key_as_spki(rsa_key, key_b64):
    pkcs1 = _b64(rsa_key, serialization.PublicFormat.PKCS1)
    assert dkim_record("mein-shop.de", "s1", pkcs1).value.endswith(f"p={key_b64}")


def test_dkim_record_idn_uses_a_label(key_b64):
    assert (
        dkim_record("müller-shop.de", "s1", key_b64).name == "s1._domainkey.xn--mller-shop-9db.de"
    )


def test_dkim_record_rejects_a_broken_key():
    with pytest.raises(ValueError, match="DKIM public key"):
        dkim_record("mein-shop.de", "s1", "bm90IGEga2V5")


def test_zone_line_splits_long_txt_into_255_octet_strings():
    record = DnsRecord("s1._domainkey.mein-shop.de", "TXT", "p=" + "A" * 400, "")
    line = record.zone_line()
    assert line.startswith("s1._domainkey.mein-shop.de. 3600 IN TXT ")
    strings = line.split(" IN TXT ")[1].split(" ")
    assert [len(s) - 2 for s in strings] == [255, 147]
    assert DnsRecord("@", "TXT", 'a"b', "").zone_line(60) == '@ 60 IN TXT "a\\"b"'


def test_zone_line_makes_host_names_absolute():
    record = DnsRecord("bounces.mein-shop.de", "CNAME", "bounces.relay.example.net", "")
    assert record.zone_line(60) == "bounces.mein-shop.de. 60 IN CNAME bounces.relay.example.net."
    mx = DnsRecord("bounces.relay.example.net", "MX", "10 relay.example.net", "")
    assert mx.zone_line(60) == "bounces.relay.example.net. 60 IN MX 10 relay.example.net."


# --- dmarc_suggestion ---------------------------------------------------------------


def test_dmarc_suggestion_at_the_shops_own_domain_not_the_organizational_one():
    """Issue 13 item 10: a record at the organizational domain governs every subdomain of a
    domain the shop may not control; recommend the shop's own sending domain."""
    record = dmarc_suggestion("news.mein-shop.co.uk")
    assert (record.name, record.value) == ("_dmarc.news.mein-shop.co.uk", "v=DMARC1; p=none")
    assert record.need == "recommended"


def test_dmarc_suggestion_with_reports():
    record = dmarc_suggestion("mein-shop.de", rua="dmarc@mein-shop.de")
    assert record.value == "v=DMARC1; p=none; rua=mailto:dmarc@mein-shop.de"


# --- return_path_record --------------------------------------------------------------


def test_return_path_record_is_an_optional_cname_to_the_bounce_domain():
    record = return_path_record("Müller-Shop.de", RELAY)
    assert (record.name, record.type, record.value, record.need) == (
        "bounces.xn--mller-shop-9db.de",
        "CNAME",
        "bounces.relay.example.net",
        "optional",
    )
    # One sentence on what it gives, and the MX + SPF alternative.
    assert "DMARC passes on SPF as well as on DKIM" in record.note
    assert f'MX 10 relay.example.net and TXT "v=spf1 include:{INCLUDE} -all"' in record.note


# --- records_to_publish -------------------------------------------------------------


def test_records_to_publish_dkim_dmarc_and_the_optional_return_path(key_b64):
    resolver = MemoryResolver(
        {"mein-shop.de": {"TXT": ["v=spf1 include:_spf.google.com ~all", "google-site=x"]}}
    )
    records = records_to_publish("mein-shop.de", "s1", key_b64, RELAY, resolver)
    assert [(r.name, r.type, r.value, r.need) for r in records] == [
        ("s1._domainkey.mein-shop.de", "TXT", f"v=DKIM1; k=rsa; p={key_b64}", "required"),
        ("_dmarc.mein-shop.de", "TXT", "v=DMARC1; p=none", "recommended"),
        ("bounces.mein-shop.de", "CNAME", "bounces.relay.example.net", "optional"),
    ]
    # No SPF record at the shop's domain: receivers never evaluate it for the relay's mail.
    assert ("mein-shop.de", "TXT") not in resolver.queries


def test_records_to_publish_keeps_what_already_works(key_b64):
    resolver = MemoryResolver({"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=reject"]}})
    records = records_to_publish("mein-shop.de", "s1", key_b64, RELAY, resolver)
    assert [r.name for r in records] == ["s1._domainkey.mein-shop.de", "bounces.mein-shop.de"]


def test_records_to_publish_under_an_org_record_keeps_its_policy(key_b64):
    resolver = MemoryResolver({"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=none; sp=reject"]}})
    records = records_to_publish("news.mein-shop.de", "s1", key_b64, RELAY, resolver)
    dmarc = records[1]
    assert (dmarc.name, dmarc.value, dmarc.need) == (
        "_dmarc.news.mein-shop.de",
        "v=DMARC1; p=reject",
        "optional",
    )
    assert "_dmarc.mein-shop.de (your organizational domain's record) already governs" in (
        dmarc.note
    )


def test_records_to_publish_survives_dns_trouble(key_b64):
    resolver = MemoryResolver(temporary=["_dmarc.mein-shop.de"])
    records = records_to_publish("mein-shop.de", "s1", key_b64, RELAY, resolver)
    assert records[1].name == "_dmarc.mein-shop.de"
    assert "could not be read" in records[1].note


def test_records_to_publish_public_mailbox_domain_is_empty(key_b64):
    resolver = MemoryResolver()
    assert records_to_publish("GMX.de", "s1", key_b64, RELAY, resolver) == []
    assert resolver.queries == []


def test_records_to_publish_rejects_non_domains(key_b64):
    with pytest.raises(InvalidDomain):
        records_to_publish("not a domain", "s1", key_b64, RELAY, MemoryResolver())
