"""The parse layer: pure functions on record text."""

import pytest

from dns_checks.dkim_keys import DkimSyntaxError, parse_dkim_record
from dns_checks.names import InvalidDomain, to_ascii_domain, to_unicode_domain
from dns_checks.spf_parse import (
    add_include,
    all_term,
    includes,
    is_spf_record,
    merge_spf_records,
    redirect_target,
    spf_records,
)
from dns_checks.taglist import TagListError, parse_tag_list


def test_tag_list_keeps_order_and_allows_whitespace_and_trailing_semicolon():
    assert parse_tag_list(" v = DKIM1 ;k=rsa;\t p=AB CD ; ") == [
        ("v", "DKIM1"),
        ("k", "rsa"),
        ("p", "AB CD"),
    ]
    assert parse_tag_list("") == []
    assert parse_tag_list("k=rsa;; p=x") == [("k", "rsa"), ("p", "x")]


@pytest.mark.parametrize("text", ["v=DKIM1; junk", "v=1; v=1", "1v=x", "=x", "v-x=1"])
def test_tag_list_errors(text):
    with pytest.raises(TagListError):
        parse_tag_list(text)


def test_dkim_record_fields():
    record = parse_dkim_record("v=DKIM1; h=sha1:sha256; s=email; t=y:s; p=QU JD")
    assert (record.key_type, record.public_key_b64, record.testing) == ("rsa", "QUJD", True)
    assert parse_dkim_record("p=").revoked


def test_dkim_record_padding_must_be_right():
    with pytest.raises(DkimSyntaxError, match="base64"):
        parse_dkim_record("p=QUJDRA")


@pytest.mark.parametrize(
    ("text", "is_spf"),
    [
        ("v=spf1 -all", True),
        ("V=SPF1 -all", True),
        ("v=spf1", True),
        ("v=spf10 -all", False),
        ("spf1 -all", False),
        ("v=DMARC1; p=none", False),
    ],
)
def test_is_spf_record(text, is_spf):
    assert is_spf_record(text) is is_spf


def test_spf_terms():
    record = "v=spf1 include:a.example +include:b.example ?include:c.example ~all include:d.example"
    assert includes(record) == ["a.example", "b.example"]
    assert all_term(record) == "~all"
    assert all_term("v=spf1 mx all") == "+all"
    assert all_term("v=spf1 mx") is None
    assert redirect_target("v=spf1 redirect=_spf.example") == "_spf.example"
    assert spf_records(["x", " v=spf1 mx ", "v=spf1 -all"]) == ["v=spf1 mx", "v=spf1 -all"]


def test_merge_spf_records():
    merged = merge_spf_records(
        ["v=spf1 mx include:a.example ~all", "v=spf1 include:a.example ip4:192.0.2.1 -all"]
    )
    assert merged == "v=spf1 mx include:a.example ip4:192.0.2.1 ~all"
    with_redirect = merge_spf_records(["v=spf1 redirect=r.example", "v=spf1 mx"])
    assert with_redirect == "v=spf1 mx redirect=r.example"
    assert (
        add_include(with_redirect, "x.example") == "v=spf1 mx include:x.example redirect=r.example"
    )


@pytest.mark.parametrize(
    ("typed", "ascii_domain"),
    [
        ("müller-shop.de", "xn--mller-shop-9db.de"),
        ("MÜLLER-SHOP.DE.", "xn--mller-shop-9db.de"),
        ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008: ß is kept, not mapped to ss
        ("Mein-Shop.de", "mein-shop.de"),
    ],
)
def test_to_ascii_domain(typed, ascii_domain):
    assert to_ascii_domain(typed) == ascii_domain


def test_to_unicode_domain():
    assert to_unicode_domain("xn--mller-shop-9db.de") == "müller-shop.de"


@pytest.mark.parametrize("text", ["", "localhost", "mein shop.de", "-shop.de", "a..de"])
def test_to_ascii_domain_rejects_non_domains(text):
    with pytest.raises(InvalidDomain):
        to_ascii_domain(text)
