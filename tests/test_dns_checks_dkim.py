"""DKIM: keys compared as keys; each way a key record can be wrong has its own result."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from dns_checks import MemoryResolver, Status
from dns_checks.dkim import check_dkim

DOMAIN = "mein-shop.de"
NAME = "s1._domainkey.mein-shop.de"
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def _b64(key, fmt=SPKI) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER, fmt)).decode()


@pytest.fixture(scope="module")
def shop_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()


@pytest.fixture(scope="module")
def shop_b64(shop_key) -> str:
    return _b64(shop_key)


@pytest.fixture(scope="module")
def other_b64() -> str:
    return _b64(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key())


def check(shop_b64, records: dict, temporary=()):
    resolver = MemoryResolver({DOMAIN: {"MX": [(10, "mx.mein-shop.de")]}, **records}, temporary)
    return check_dkim(DOMAIN, "s1", shop_b64, resolver)


def test_match(shop_b64):
    result = check(shop_b64, {NAME: {"TXT": [f"v=DKIM1; k=rsa; p={shop_b64}"]}})
    assert (result.status, result.detail["reason"]) == (Status.OK, "match")
    assert result.detail["key_matches"] is True
    assert result.found == f"v=DKIM1; k=rsa; p={shop_b64}"
    assert result.expected == f"v=DKIM1; k=rsa; p={shop_b64}"
    assert result.action == ""


def test_match_accepts_pkcs1_form_and_whitespace(shop_key, shop_b64):
    pkcs1 = _b64(shop_key, serialization.PublicFormat.PKCS1)
    spaced = " ".join(pkcs1[i : i + 60] for i in range(0, len(pkcs1), 60))
    result = check(shop_b64, {NAME: {"TXT": [f"k=rsa;p={spaced};"]}})
    assert result.detail["reason"] == "match"


def test_shop_key_given_as_pkcs1_matches_published_spki(shop_key, shop_b64):
    pkcs1 = _b64(shop_key, serialization.PublicFormat.PKCS1)
    assert check(pkcs1, {NAME: {"TXT": [f"v=DKIM1; p={shop_b64}"]}}).status == Status.OK


def test_cname_is_followed_and_reported(shop_b64):
    records = {
        NAME: {"CNAME": "s1.dkim.shophost.example"},
        "s1.dkim.shophost.example": {"TXT": [f"v=DKIM1; k=rsa; p={shop_b64}"]},
    }
    result = check(shop_b64, records)
    assert result.status == Status.OK
    assert result.detail["cname"] == "s1.dkim.shophost.example"
    assert result.found.startswith("CNAME s1.dkim.shophost.example: v=DKIM1;")


def test_dangling_cname_is_no_record(shop_b64):
    result = check(shop_b64, {NAME: {"CNAME": "gone.shophost.example"}})
    assert result.detail["reason"] == "no-record"
    assert "a CNAME to gone.shophost.example, which has none" in result.action
    assert "remove the CNAME" not in result.action


def test_no_record(shop_b64):
    result = check(shop_b64, {})
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "no-record")
    assert result.found == "no record"
    assert result.action.startswith(f"There is no DKIM key at {NAME}")
    assert result.action.endswith(
        f"publish this TXT record at {NAME}: v=DKIM1; k=rsa; p={shop_b64}"
    )


def test_other_txt_at_the_domain_is_not_a_key(shop_b64):
    result = check(shop_b64, {"_domainkey.mein-shop.de": {"TXT": ["o=-"]}})
    assert result.detail["reason"] == "no-record"


def test_wrong_key(shop_b64, other_b64):
    result = check(shop_b64, {NAME: {"TXT": [f"v=DKIM1; k=rsa; p={other_b64}"]}})
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "wrong-key")
    assert "a different key" in result.action
    assert result.detail["key_matches"] is False


def test_wrong_key_behind_cname_says_to_replace_the_cname(shop_b64, other_b64):
    records = {
        NAME: {"CNAME": "s1.dkim.shophost.example"},
        "s1.dkim.shophost.example": {"TXT": [f"v=DKIM1; p={other_b64}"]},
    }
    result = check(shop_b64, records)
    assert result.detail["reason"] == "wrong-key"
    assert "remove the CNAME to s1.dkim.shophost.example" in result.action


def test_revoked(shop_b64):
    result = check(shop_b64, {NAME: {"TXT": ["v=DKIM1; k=rsa; p="]}})
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "revoked")
    assert "revoked (empty p=" in result.action


def test_several_records(shop_b64, other_b64):
    records = {NAME: {"TXT": [f"v=DKIM1; p={shop_b64}", f"v=DKIM1; p={other_b64}"]}}
    result = check(shop_b64, records)
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "several-records")
    assert "There are 2 TXT records" in result.action


def test_testing_mode_is_a_warning_but_the_key_matches(shop_b64):
    result = check(shop_b64, {NAME: {"TXT": [f"v=DKIM1; t=y; p={shop_b64}"]}})
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "testing")
    assert result.detail["key_matches"] is True


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("this is not a key", "is not of the form tag=value"),
        ("v=DKIM1; k=rsa; p=!!!notbase64", "p= is not valid base64"),
        ("v=DKIM1; k=rsa; p=QUJD", "not a public key"),
        ("k=rsa; v=DKIM1; p=QUJD", "v= must come first"),
        ("v=DKIM2; p=QUJD", "v= must come first and be exactly v=DKIM1"),
        ("v=DKIM1; k=ed25519; p=QUJD", "k=ed25519 is not an RSA key"),
        ("v=DKIM1; h=sha1; p=QUJD", "h=sha1 does not allow sha256"),
        ("v=DKIM1; s=tlsrpt; p=QUJD", "s=tlsrpt does not allow email"),
        ("v=DKIM1; k=rsa", "no p= tag"),
        ("v=DKIM1; p=QUJD; p=QUJD", "the tag p= appears twice"),
    ],
)
def test_syntax_errors_say_what_is_wrong(shop_b64, record, words):
    result = check(shop_b64, {NAME: {"TXT": [record]}})
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "syntax")
    assert words in result.action
    assert result.action.endswith(f"publish this TXT record at {NAME} instead: {result.expected}")


def test_non_rsa_key_in_p_is_a_syntax_error(shop_b64):
    ec_key = _b64(ec.generate_private_key(ec.SECP256R1()).public_key())
    result = check(shop_b64, {NAME: {"TXT": [f"v=DKIM1; p={ec_key}"]}})
    assert result.detail["reason"] == "syntax"
    assert "not RSA" in result.action


def test_dns_trouble_is_unknown(shop_b64):
    result = check(shop_b64, {NAME: {"TXT": [f"v=DKIM1; p={shop_b64}"]}}, temporary=[NAME])
    assert (result.status, result.detail["reason"]) == (Status.UNKNOWN, "dns-error")


def test_an_unreadable_shop_key_is_a_caller_bug():
    with pytest.raises(ValueError):
        check("bm90IGEga2V5", {})
