"""The reason is a closed type: SPEC's names only, checked when the rule files load, with
words for the shop for every one; "expired" only where a queue lifetime ended."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounces import classify, parse_report
from bounces.providers import load_providers
from bounces.rules import HERE, load_rule_set
from bounces.taxonomy import NOT_FAILURES, Reason, UnknownReason
from relay.explain import explain

# SPEC.md "Bounces and complaints": the reason names a report may carry.
SPEC_REASONS = {
    "userunknown",
    "hostunknown",
    "mailboxfull",
    "mesgtoobig",
    "exceedlimit",
    "filtered",
    "rejected",
    "blocked",
    "spamdetected",
    "policyviolation",
    "securityerror",
    "virusdetected",
    "expired",
    "suspend",
    "norelaying",
    "networkerror",
    "systemerror",
    "systemfull",
    "toomanyconn",
    "notaccept",
    "mailererror",
    "hasmoved",
    "syntaxerror",
    "contenterror",
    "ratelimited",
    "requireptr",
    "authfailure",
    "badreputation",
    "notcompliantrfc",
    "onhold",
    "undefined",
}


def test_the_type_is_specs_list() -> None:
    assert {str(r) for r in Reason} - {str(r) for r in NOT_FAILURES} == SPEC_REASONS


@pytest.mark.parametrize("reason", sorted(SPEC_REASONS))
def test_every_reason_has_words_for_the_shop(reason: str) -> None:
    def said(name: str) -> str:
        return explain({"state": "bounced", "reason": name, "last_text": None})

    # Without words of its own, explain() shows the bare reason name.
    assert said(reason) != said("no-such-reason").replace("no-such-reason", reason)


def _copy_rules(tmp_path: Path) -> tuple[Path, Path]:
    for name in ("rules.toml", "reasons.toml", "providers.toml"):
        shutil.copy(HERE / name, tmp_path / name)
    return tmp_path / "rules.toml", tmp_path / "reasons.toml"


def test_an_unknown_reason_in_rules_stops_the_load(tmp_path: Path) -> None:
    rules, reasons = _copy_rules(tmp_path)
    text = rules.read_text().replace('"4.4.2" = "networkerror"', '"4.4.2" = "speeding"')
    rules.write_text(text)
    with pytest.raises(UnknownReason, match=r'rules.toml \[status\] "4.4.2": .*speeding'):
        load_rule_set(rules, reasons)


def test_an_unknown_reason_in_reasons_stops_the_load(tmp_path: Path) -> None:
    rules, reasons = _copy_rules(tmp_path)
    reasons.write_text(reasons.read_text() + '\n[reason.failedstarttls]\ntext = ["tls"]\n')
    with pytest.raises(UnknownReason, match=r"reasons.toml \[reason.failedstarttls\]"):
        load_rule_set(rules, reasons)


def test_a_phrase_group_must_say_why(tmp_path: Path) -> None:
    rules, reasons = _copy_rules(tmp_path)
    reasons.write_text(reasons.read_text() + '\n[[phrases]]\nreason = "blocked"\ntext = ["x"]\n')
    with pytest.raises(ValueError, match="why"):
        load_rule_set(rules, reasons)


def test_an_unknown_reason_in_providers_stops_the_load(tmp_path: Path) -> None:
    _copy_rules(tmp_path)
    path = tmp_path / "providers.toml"
    path.write_text(path.read_text().replace('reason = "mesgtoobig"', 'reason = "emailtoolarge"'))
    with pytest.raises(UnknownReason, match=r"providers.toml \[google\] rule #\d+"):
        load_providers(path)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([None, 250, 421, 450, 451, 452, 550, 552, 554]),
    st.sampled_from([None, "", "4.4.1", "4.4.7", "5.1.1", "5.7.1", "2.0.0", "5.9.9"]),
    st.text(max_size=120),
    st.sampled_from(["", "failed", "delayed"]),
    st.booleans(),
)
def test_classify_answers_only_with_the_type(code, status, text, action, report) -> None:
    verdict = classify(code, status, text, action=action, report=report)
    assert isinstance(verdict.reason, Reason)


LIVE = [
    (451, "4.4.1", "connection refused ([Errno 111] Connect call failed)", "networkerror"),
    (451, "4.4.1", "no MX host could be reached", "networkerror"),
    (451, "4.4.2", "connection timed out", "networkerror"),
    (421, "4.4.2", "mx.example.org: retry timeout exceeded", "networkerror"),
]


@pytest.mark.parametrize(("code", "status", "text", "reason"), LIVE, ids=[r[2] for r in LIVE])
def test_a_live_reply_is_never_expired(code: int, status: str, text: str, reason: str) -> None:
    """A deferred row must not read 'gave up at the end of the queue lifetime'."""
    assert classify(code, status, text).reason == reason


def test_the_same_words_in_a_report_say_expired() -> None:
    given_up = classify(
        None, "4.4.1", "connect to mx.example.net: Connection refused", action="failed", report=True
    )
    assert given_up.reason == "expired"
    assert classify(None, "5.0.0", "retry timeout exceeded", report=True).reason == "expired"
    assert classify(None, "4.4.7", "", action="failed", report=True).reason == "expired"


def test_ratelimited_is_produced() -> None:
    text = (
        "450-4.2.1 The user you are trying to contact is receiving mail at a rate that "
        "prevents additional messages from being delivered."
    )
    assert classify(450, "4.2.1", text).reason == "ratelimited"
    assert classify(451, "4.7.1", "Please try again slower").reason == "ratelimited"


def test_one_word_overquota_is_a_full_mailbox() -> None:
    assert classify(550, None, "550 anna@example.net...User account is overquota").reason == (
        "mailboxfull"
    )


def test_maximum_delivery_attempts_is_a_give_up_in_reports_only() -> None:
    text = "Reason: Exceeded Maximum Delivery Attempts"
    assert classify(None, None, text, action="failed", report=True).reason == "expired"
    assert classify(421, None, f"421 {text}").reason != "expired"


_POWERMTA_DSN = (
    "From: mailer-daemon@mta.example.com\nTo: b-dG9rZW4x@bounces.relay.example.net\n"
    "Subject: Delivery report\nMIME-Version: 1.0\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
    "--b\nContent-Type: text/plain\n\nThe message could not be delivered.\n\n"
    "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mta.example.com\n\n"
    "Final-Recipient: rfc822; anna@example.net\nAction: failed\nStatus: 5.0.0\n"
    "Remote-MTA: dns; mx.example.net\nDiagnostic-Code: smtp; {reply}\n"
    "X-PowerMTA-BounceCategory: {category}\n\n--b--\n"
)


@pytest.mark.parametrize(
    ("reply", "category", "reason"),
    [
        ("550 Requested action aborted [9]", "bad-mailbox", "userunknown"),
        ("550 Requested action aborted [9]", "quota-issues", "mailboxfull"),
        ("550 Requested action aborted [9]", "no-such-category", "onhold"),
        # The reply's own words win over the MTA's class of them.
        ("552 5.2.2 Mailbox full", "spam-related", "mailboxfull"),
    ],
)
def test_the_reporters_category_fills_a_gap_only(reply: str, category: str, reason: str) -> None:
    raw = _POWERMTA_DSN.format(reply=reply, category=category).encode()
    assert parse_report(raw, strict=True).recipients[0].reason == reason


def test_cloudflare_email_routing_replies() -> None:
    """developers.cloudflare.com/email-routing/postmaster: its DNSBL refusal and its own
    upstream failures, read when the reply came from its MX."""
    mx = "route1.mx.cloudflare.net"
    text = "554 192.0.2.1 found on one or more DNSBLs (abusixip)"
    assert classify(554, None, text, remote_mta=mx).reason == "blocked"
    assert classify(451, None, "451 Upstream error", remote_mta=mx).reason == "systemerror"


def test_a_deferred_row_is_not_expired_before_the_lifetime_ends() -> None:
    """The relay's own decision: a refused connection defers with networkerror; only at
    the end of delivery.max_age does the recipient bounce as expired."""
    from relay.delivery.decide import decide
    from relay.delivery.outcome import Reply

    reply = Reply.synthetic_reply(451, "4.4.1", "connection refused ([Errno 111])")
    deferred = decide(reply, 1, 0, 10, (60.0,), 3600)
    assert (deferred.state, deferred.reason) == ("deferred", "networkerror")
    assert decide(reply, 9, 0, 3600, (60.0,), 3600).reason == "expired"
