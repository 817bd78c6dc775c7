"""The scorer's adapter (bounces/score_adapter.py) says our verdict in Sisimai's names and
conventions, and changes nothing the relay itself reads from a report."""

from __future__ import annotations

import copy
from pathlib import Path

from bounces import parse_report, report_to_dict
from bounces.score_adapter import in_sisimai_terms

MTA_DATA = Path(__file__).parent / "data" / "bounces-mta"


def _dsn(diagnostic: str, status: str = "", action: str = "failed") -> bytes:
    """An RFC 3464 report for one recipient, with the given Diagnostic-Code."""
    status_field = f"Status: {status}\n" if status else ""
    return f"""From: MAILER-DAEMON@mx.example.net
To: b-token@bounces.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; anna@example.org
Action: {action}
{status_field}Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; {diagnostic}

--b--
""".encode()


def _both(raw: bytes) -> tuple[dict, dict]:
    """(what the relay reads, what the scorer is told) for one report."""
    report = parse_report(raw, strict=True)
    before = copy.deepcopy(report)
    translated = in_sisimai_terms(report)
    assert report == before, "the adapter must not change the report the relay keeps"
    return report_to_dict(report)["recipients"][0], translated["recipients"][0]


def test_give_up_is_failed_for_the_relay_and_delayed_for_sisimai() -> None:
    for mta in ("postfix", "exim", "sendmail", "courier", "opensmtpd"):
        relay, scored = _both((MTA_DATA / mta / "06-expired.eml").read_bytes())
        assert (relay["reason"], relay["action"]) == ("expired", "failed"), mta
        assert (scored["reason"], scored["action"]) == ("expired", "delayed"), mta


def test_other_actions_pass_unchanged() -> None:
    relay, scored = _both((MTA_DATA / "postfix" / "01-userunknown.eml").read_bytes())
    assert relay == scored
    relay, scored = _both((MTA_DATA / "postfix" / "05-delayed.eml").read_bytes())
    assert scored["action"] == relay["action"] == "delayed"


def test_ratelimited_is_speeding_with_its_pseudo_status() -> None:
    words = "The user you are trying to contact is receiving mail at a rate that prevents "
    words += "additional messages from being delivered"
    relay, scored = _both(_dsn(f"550 {words}"))
    assert (relay["reason"], relay["status"]) == ("ratelimited", "5.0.945")
    assert (scored["reason"], scored["status"]) == ("speeding", "5.0.946")
    relay, scored = _both(_dsn(f"550 5.2.1 {words}", "5.2.1"))
    assert (relay["reason"], scored["reason"]) == ("ratelimited", "speeding")
    assert relay["status"] == scored["status"] == "5.2.1"  # a code the report gave stays


def test_securityerror_about_starttls_is_failedstarttls() -> None:
    relay, scored = _both(_dsn("530 STARTTLS is required to send mail"))
    assert (relay["reason"], relay["status"]) == ("securityerror", "5.0.970")
    assert (scored["reason"], scored["status"]) == ("failedstarttls", "5.0.976")
    relay, scored = _both(_dsn("550 5.7.10 Remote server does not support TLS", "5.7.10"))
    assert (relay["reason"], scored["reason"]) == ("securityerror", "failedstarttls")
    assert scored["status"] == "5.7.10"


def test_securityerror_not_about_tls_stays() -> None:
    relay, scored = _both(_dsn("550 5.7.1 Unauthenticated senders not allowed", "5.7.1"))
    assert relay["reason"] == scored["reason"] == "securityerror"
    # "TLS" in a quoted Received field is no reply about TLS.
    quoted = "550 5.7.1 Unauthenticated senders not allowed Received: from mx.example.net"
    quoted += " by mx.example.org with Microsoft SMTP Server (TLS)"
    relay, scored = _both(_dsn(quoted, "5.7.1"))
    assert relay["reason"] == scored["reason"] == "securityerror"


def test_complaint_without_recipient_says_feedback() -> None:
    arf = b"""From: fbl@example.net
To: abuse@example.com
Subject: Abuse Report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="p"

--p
Content-Type: text/plain

An abuse report.

--p
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1

--p
Content-Type: text/rfc822-headers

From: Shop <news@shop.example.com>
To: "undisclosed"
Subject: Offers

--p--
"""
    report = parse_report(arf, strict=True)
    assert (report.kind, report.recipients) == ("complaint", [])
    assert "reason" not in report_to_dict(report)
    assert in_sisimai_terms(report)["reason"] == "feedback"
