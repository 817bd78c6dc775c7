"""DMARC: policy discovery with org-domain fallback, alignment of d=, p=reject while unverified."""

import pytest

from dns_checks import MemoryResolver, Status, organizational_domain
from dns_checks.dmarc import check_dmarc
from dns_checks.dmarc_policy import DmarcSyntaxError, dkim_aligned, parse_dmarc_record


def check(records: dict, from_domain="mein-shop.de", dkim_domain=None, verified=True, **kw):
    resolver = MemoryResolver(records, kw.pop("temporary", ()))
    result = check_dmarc(from_domain, dkim_domain or from_domain, verified, resolver, **kw)
    return result, resolver


def test_missing_is_a_warning_with_the_suggested_record():
    result, _ = check({"mein-shop.de": {"A": ["192.0.2.1"]}})
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "no-record")
    assert result.found == "no record"
    assert result.expected == "v=DMARC1; p=none"
    assert "publishing this TXT record at _dmarc.mein-shop.de: v=DMARC1; p=none" in result.action


def test_suggestion_can_carry_a_report_address():
    result, _ = check({}, rua="dmarc-reports@mein-shop.de")
    assert result.expected == "v=DMARC1; p=none; rua=mailto:dmarc-reports@mein-shop.de"


def test_txt_that_is_not_dmarc_is_ignored():
    result, _ = check({"_dmarc.mein-shop.de": {"TXT": ["v=spf1 -all", "v=DMARC10; p=none"]}})
    assert result.detail["reason"] == "no-record"


def test_p_none_is_ok():
    result, _ = check(
        {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=none; rua=mailto:d@x.example"]}}
    )
    assert (result.status, result.detail["reason"]) == (Status.OK, "ok")
    assert result.found == result.expected == "v=DMARC1; p=none; rua=mailto:d@x.example"
    assert result.detail["policy"] == "none"
    assert result.detail["aligned"] is True


def test_reject_while_unverified_is_an_error():
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=reject"]}}
    result, _ = check(records, verified=False)
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "reject-unverified")
    assert "fallback address" in result.action
    assert "rejected by receivers" in result.action


def test_reject_while_verified_is_fine():
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=reject"]}}
    assert check(records, verified=True)[0].status == Status.OK


def test_quarantine_while_unverified_is_not_an_error():
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=quarantine"]}}
    assert check(records, verified=False)[0].status == Status.OK


def test_org_domain_fallback_uses_the_public_suffix_list():
    records = {"_dmarc.mein-shop.co.uk": {"TXT": ["v=DMARC1; p=quarantine; sp=reject"]}}
    result, resolver = check(records, from_domain="news.mein-shop.co.uk", verified=False)
    assert result.detail["record_name"] == "_dmarc.mein-shop.co.uk"
    assert result.detail["from_org_domain"] is True
    assert result.detail["effective_policy"] == "reject"  # sp= applies to subdomains
    assert result.detail["reason"] == "reject-unverified"
    asked = [name for name, _ in resolver.queries]
    assert asked == ["_dmarc.news.mein-shop.co.uk", "_dmarc.mein-shop.co.uk"]


def test_own_record_wins_over_org_domain():
    records = {
        "_dmarc.news.mein-shop.de": {"TXT": ["v=DMARC1; p=none"]},
        "_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=reject"]},
    }
    result, _ = check(records, from_domain="news.mein-shop.de", verified=False)
    assert result.detail["effective_policy"] == "none"
    assert result.status == Status.OK


def test_strict_alignment_fails_for_a_subdomain_from():
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=reject; adkim=s"]}}
    result, _ = check(records, from_domain="news.mein-shop.de", dkim_domain="mein-shop.de")
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "not-aligned")
    assert "not exactly the From domain news.mein-shop.de" in result.action
    assert "set adkim=r" in result.action


def test_relaxed_alignment_passes_for_a_subdomain_from():
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=reject"]}}
    result, _ = check(records, from_domain="news.mein-shop.de", dkim_domain="mein-shop.de")
    assert result.status == Status.OK
    assert (result.detail["adkim"], result.detail["aligned"]) == ("r", True)


def test_misalignment_under_p_none_is_only_a_warning():
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=none; adkim=s"]}}
    result, _ = check(records, from_domain="news.mein-shop.de", dkim_domain="mein-shop.de")
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "not-aligned")


def test_hyphenated_domains_are_not_aligned_by_suffix_matching():
    # "mein-shop.de" ends with "shop.de", but they are different organizations.
    records = {"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=quarantine"]}}
    result, _ = check(records, from_domain="mein-shop.de", dkim_domain="shop.de")
    assert (result.status, result.detail["reason"]) == (Status.ERROR, "not-aligned")
    assert not dkim_aligned("shop.de", "mein-shop.de", "r")
    assert dkim_aligned("mein-shop.de", "mail.mein-shop.de", "r")
    assert organizational_domain("mail.mein-online-shop.de") == "mein-online-shop.de"
    assert organizational_domain("mail.mein-shop.co.uk") == "mein-shop.co.uk"


def test_several_records_are_ignored_by_receivers():
    records = {
        "_dmarc.news.mein-shop.de": {"TXT": ["v=DMARC1; p=none", "v=DMARC1; p=reject"]},
        "_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=none"]},
    }
    result, resolver = check(records, from_domain="news.mein-shop.de")
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "several-records")
    assert "receivers ignore all of them" in result.action
    # RFC 7489 §6.6.3: several records end the search; no fallback to the org domain.
    assert resolver.queries == [("_dmarc.news.mein-shop.de", "TXT")]


def test_invalid_record_without_rua_is_ignored():
    result, _ = check({"_dmarc.mein-shop.de": {"TXT": ["v=DMARC1; p=block"]}})
    assert (result.status, result.detail["reason"]) == (Status.WARNING, "syntax")
    assert "p= is missing or invalid and there is no rua=" in result.action


def test_invalid_policy_with_rua_counts_as_none():
    record = "v=DMARC1; p=block; rua=mailto:d@mein-shop.de"
    result, _ = check({"_dmarc.mein-shop.de": {"TXT": [record]}}, verified=False)
    assert result.status == Status.OK
    assert result.detail["effective_policy"] == "none"
    assert result.detail["tolerated"] == [
        "p= is missing or invalid; receivers treat the record as p=none"
    ]


def test_dns_trouble_is_unknown():
    result, _ = check({}, temporary=["_dmarc.mein-shop.de"])
    assert (result.status, result.detail["reason"]) == (Status.UNKNOWN, "dns-error")


def test_parse_is_case_insensitive_for_tags_and_keywords():
    policy = parse_dmarc_record("v=DMARC1; P=Reject; ADKIM=S; pct=50")
    assert (policy.policy, policy.adkim, policy.pct) == ("reject", "s", 50)


@pytest.mark.parametrize("record", ["v=DMARC1 p=none", "v=dmarc1; p=none", "p=none; v=DMARC1"])
def test_parse_rejects_records_receivers_discard(record):
    with pytest.raises(DmarcSyntaxError):
        parse_dmarc_record(record)


@pytest.mark.parametrize("pct", ["²", "¹⁰", "٥٠"])
def test_pct_with_non_ascii_digits_is_tolerated_as_100(pct):
    policy = parse_dmarc_record(f"v=DMARC1; p=reject; pct={pct}")
    assert policy.pct == 100
    assert any(f"pct={pct} is invalid" in t for t in policy.tolerated)
    result, _ = check({"_dmarc.mein-shop.de": {"TXT": [f"v=DMARC1; p=reject; pct={pct}"]}})
    assert result.status == Status.OK


# --- item 10: the shop's own domain first; what an organizational record already says ----


def test_missing_everywhere_recommends_the_shops_own_domain_not_the_org_domain():
    result, _ = check({}, from_domain="mein-shop.example.com")
    assert result.detail["reason"] == "no-record"
    assert result.detail["record_name"] == "_dmarc.mein-shop.example.com"
    assert "at _dmarc.mein-shop.example.com: v=DMARC1; p=none" in result.action
    assert "_dmarc.example.com" not in result.action


@pytest.mark.parametrize(
    ("org_record", "applies"),
    [
        ("v=DMARC1; p=quarantine; sp=none", "its sp=none applies to shop.example.com"),
        ("v=DMARC1; p=quarantine", "its p=quarantine (it has no sp=) applies to shop.example.com"),
    ],
)
def test_an_org_record_governing_the_shop_domain_is_reported(org_record, applies):
    records = {"_dmarc.example.com": {"TXT": [org_record]}}
    result, _ = check(records, from_domain="shop.example.com")
    assert result.status == Status.OK and result.action == ""
    assert result.detail["from_org_domain"] is True
    assert result.found.startswith("no record at _dmarc.shop.example.com; ")
    assert "record at _dmarc.example.com governs it: " + org_record in result.found
    assert applies in result.found


def test_reject_from_the_org_record_is_fixed_at_the_shops_own_domain():
    records = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=none; sp=reject"]}}
    result, _ = check(records, from_domain="shop.example.com", verified=False)
    assert result.detail["reason"] == "reject-unverified"
    assert result.action.endswith("publish p=none at _dmarc.shop.example.com until it passes.")


def test_a_broken_org_record_asks_for_a_record_of_the_shops_own():
    records = {"_dmarc.example.com": {"TXT": ["v=DMARC1; p=bogus"]}}
    result, _ = check(records, from_domain="shop.example.com")
    assert result.detail["reason"] == "syntax"
    assert "publish a record of your own at _dmarc.shop.example.com" in result.action


def test_aspf_is_parsed_like_adkim():
    assert parse_dmarc_record("v=DMARC1; p=none; aspf=s").aspf == "s"
    assert parse_dmarc_record("v=DMARC1; p=none").aspf == "r"
    tolerated = parse_dmarc_record("v=DMARC1; p=none; aspf=x")
    assert tolerated.aspf == "r" and "aspf=x" in tolerated.tolerated[0]
