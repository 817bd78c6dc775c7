"""classify() on real SMTP replies: the reason, and whether the address is proven dead."""

from __future__ import annotations

import pytest

from bounces import Classification, classify
from bounces.reason import Evidence, decide
from bounces.status import prefer

# (code, status, text, command) -> (reason, permanent, dead_address, status)
REPLIES = [
    ((550, None, "5.1.1 user unknown", None), ("userunknown", True, True, "5.1.1")),
    ((None, None, "550 5.1.1 user unknown", None), ("userunknown", True, True, "5.1.1")),
    (
        (
            550,
            "5.1.1",
            "<max@example.org>: Recipient address rejected: User unknown in local recipient table",
            "RCPT",
        ),
        ("userunknown", True, True, "5.1.1"),
    ),
    ((552, "5.2.2", "mailbox full", None), ("mailboxfull", True, False, "5.2.2")),
    (
        (452, "4.2.2", "The email account that you tried to reach is over quota", None),
        ("mailboxfull", False, False, "4.2.2"),
    ),
    (
        (554, "5.7.1", "Service unavailable; client host [127.0.0.9] blocked using Spamhaus", None),
        ("blocked", True, False, "5.7.1"),
    ),
    ((421, "4.7.0", "try again later", None), ("securityerror", False, False, "4.7.0")),
    ((450, "4.2.0", "", None), ("undefined", False, False, "4.2.0")),
    (
        (552, "5.3.4", "Message size exceeds fixed maximum message size", "DATA"),
        ("mesgtoobig", True, False, "5.3.4"),
    ),
    ((556, "5.1.10", "Recipient address has null MX", "RCPT"), ("notaccept", True, True, "5.1.10")),
    ((550, "5.1.2", "Host or domain name not found", "RCPT"), ("hostunknown", True, True, "5.1.2")),
    ((550, "5.1.6", "recipient no longer on server", "RCPT"), ("hasmoved", True, True, "5.1.6")),
    (
        (550, "5.7.1", "Message rejected as spam by Content Filtering", "DATA"),
        ("spamdetected", True, False, "5.7.1"),
    ),
    (
        (
            550,
            "5.7.26",
            "Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
            "DATA",
        ),
        ("authfailure", True, False, "5.7.26"),
    ),
    ((550, "5.7.1", "Relay access denied", "RCPT"), ("norelaying", True, False, "5.7.1")),
    (
        (550, "5.2.1", "The email account that you tried to reach is disabled", "RCPT"),
        ("suspend", True, False, "5.2.1"),
    ),
    (
        (421, "4.7.0", "Too many connections from your host", "EHLO"),
        ("toomanyconn", False, False, "4.7.0"),
    ),
    (
        (
            550,
            "5.7.25",
            "The IP address sending this message does not have a PTR record setup",
            "RCPT",
        ),
        ("requireptr", True, False, "5.7.25"),
    ),
    (
        (554, None, "5.6.0 Message contains invalid header", "DATA"),
        ("contenterror", True, False, "5.6.0"),
    ),
    ((250, "2.0.0", "OK queued as 12345", "DATA"), ("delivered", False, False, "2.0.0")),
    # Temporary: 4xx never proves anything permanent about the address.
    (
        (450, "4.1.1", "Recipient address rejected: User unknown", "RCPT"),
        ("userunknown", False, False, "4.1.1"),
    ),
]


@pytest.mark.parametrize(("reply", "expected"), REPLIES, ids=[r[0][2][:40] for r in REPLIES])
def test_real_replies(reply: tuple, expected: tuple) -> None:
    code, status, text, command = reply
    assert classify(code, status, text, command=command) == Classification(*expected)


def test_user_unknown_after_data_is_a_content_filter() -> None:
    # Sisimai: "User unknown" in answer to DATA comes from a filter, not a directory.
    verdict = classify(550, None, "550 Unknown user kijitora@example.jp", command="DATA")
    assert verdict.reason == "filtered"
    assert not verdict.dead_address


def test_never_dead_for_policy_refusals() -> None:
    for text in (
        "550 5.7.1 blocked using zen.spamhaus.org",
        "552 5.2.2 mailbox full",
        "554 5.7.1 Message rejected due to local policy",
    ):
        assert not classify(None, None, text).dead_address, text


def test_provider_codes_need_the_remote_host() -> None:
    text = "550 5.5.0 Le compte du destinataire est bloque. LPN007_426"
    assert classify(550, "5.5.0", text, remote_mta="smtpz4.laposte.net").reason == "suspend"


def test_status_and_code_taken_from_text() -> None:
    verdict = classify(None, None, "host mx said: 550-5.7.1 Our system 550-5.7.1 has detected")
    assert verdict.status == "5.7.1"
    assert verdict.permanent


@pytest.mark.parametrize("text", ["", "   ", "garbage \x00\xff", "5." * 1000])
def test_odd_text_is_harmless(text: str) -> None:
    assert isinstance(classify(None, None, text), Classification)


@pytest.mark.parametrize(
    ("field", "in_text", "reply", "expected"),
    [
        ("5.5.1", "5.1.1", "550", "5.1.1"),  # X.5.x (protocol) yields to a specific code
        ("5.5.2", "5.2.2", "552", "5.2.2"),
        ("5.5.4", "5.7.1", "554", "5.7.1"),
        ("5.5.3", "5.1.1", "550", "5.5.3"),  # 5.5.3 is not in the protocol list
        ("5.1.1", "5.5.1", "550", "5.1.1"),  # the other way round the field stays
    ],
)
def test_prefer_protocol_status_yields(field: str, in_text: str, reply: str, expected: str) -> None:
    assert prefer(field, in_text, reply) == expected


def test_syntax_reply_with_non_ascii_digits_is_no_reply() -> None:
    # '⁵⁰¹'.isdigit() is True but int() raises: it must read as no reply code at all.
    assert decide(Evidence(reply="⁵⁰¹")) == decide(Evidence(reply=""))
