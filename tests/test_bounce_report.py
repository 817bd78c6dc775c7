"""The report's shape (SPEC.md JSON), token extraction, ARF details, the leaf rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bounces import detectors, mime, parse_report, report_to_dict
from bounces.addresses import find_token
from bounces.context import Mail
from bounces.detectors import amazonses

DATA = Path(__file__).parent / "data" / "bounces"
REPO = Path(__file__).resolve().parents[1]

ARF = b"""From: feedback@mail.example.net
To: fbl@relay.example.net
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part"

--part
Content-Type: text/plain

This is an email abuse report for an email message received from IP 127.0.0.5.

--part
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <b-dG9rZW4x@bounces.relay.example.net>
Original-Rcpt-To: <anna@example.net>
Authentication-Results: mail.example.net; spf=pass smtp.mailfrom=relay.example.net;
  dkim=pass header.d=shop.example.com
Source-IP: 127.0.0.5

--part
Content-Type: text/rfc822-headers

Return-Path: <b-dG9rZW4x@bounces.relay.example.net>
From: Shop <news@shop.example.com>
To: anna@example.net
Subject: Offers
Message-ID: <offer-1@relay.example.net>

--part--
"""


def test_spec_json_shape() -> None:
    report = parse_report((DATA / "relay-token-dsn.eml").read_bytes())
    data = report_to_dict(report)
    assert set(data) == {"kind", "recipients", "message_id", "token", "feedback_type", "format"}
    assert set(data["recipients"][0]) == {
        "address",
        "action",
        "status",
        "reason",
        "diagnostic",
        "remote_mta",
    }
    assert data["recipients"][0]["diagnostic"].startswith("host mx.example.org")


def test_arf_complaint() -> None:
    report = parse_report(ARF)
    assert (report.kind, report.format, report.feedback_type) == ("complaint", "arf", "abuse")
    assert [r.address for r in report.recipients] == ["anna@example.net"]
    assert report.recipients[0].reason == "feedback"
    assert not report.recipients[0].dead_address
    assert report.token == "dG9rZW4x"
    assert report.message_id == "<offer-1@relay.example.net>"
    methods = {(r["method"], r["result"]) for r in report.auth_results}
    assert methods == {("spf", "pass"), ("dkim", "pass")}


def test_token_forms() -> None:
    assert find_token("b-abc_DEF-123@bounces.relay.example.net") == "abc_DEF-123"
    assert find_token("Shop <b-abc123@bounces.example.net>") == "abc123"
    assert find_token("nob-abc123@example.net") is None
    assert find_token("", "max@example.org") is None


def test_not_a_bounce() -> None:
    raw = b"From: friend@example.org\nTo: you@example.net\nSubject: lunch?\n\nSee you at noon.\n"
    report = parse_report(raw)
    assert report.kind == "other"
    assert report.recipients == []


def test_bounces_is_a_leaf() -> None:
    code = (
        "import sys, bounces\n"
        "sys.exit(any(m.split('.')[0] in ('relay', 'config') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


# Courier writes its notice in the MIME preamble; the delivery-status part names no cause.
COURIER_DELAY = b"""From: postmaster@mx.example.org
To: shop@example.net
Subject: WARNING: delayed mail.
Content-Type: multipart/report; report-type=delivery-status; boundary="=_courier_0"

This is a delivery status notification from mx.example.org,
running the Courier mail server, version 0.65.2.

                     DELAYS IN DELIVERING YOUR MESSAGE

The delivery of the following E-mail message has been delayed.

<max@example.org>:
    mx.example.org [127.0.0.1]:
>>> RCPT TO:<max@example.org>
<<< 450 4.1.7 <shop@example.net>: Sender address rejected: unverified address

--=_courier_0
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; max@example.org
Action: delayed
Status: 4.0.0

--=_courier_0--
"""


def test_notice_in_mime_preamble() -> None:
    report = parse_report(COURIER_DELAY)
    [rcpt] = report.recipients
    assert (report.kind, rcpt.action, rcpt.status, rcpt.reason) == (
        "delay",
        "delayed",
        "4.1.7",
        "rejected",
    )
    assert rcpt.diagnostic.startswith("<max@example.org>:") or "450 4.1.7" in rcpt.diagnostic


def test_delivered_status_field_is_kept() -> None:
    raw = COURIER_DELAY.replace(
        b"Action: delayed\nStatus: 4.0.0", b"Action: delivered\nStatus: 2.0.0"
    )
    raw = raw.replace(b"<<< 450 4.1.7", b"<<< 250 2.1.5")
    report = parse_report(raw)
    assert report.kind == "delivered"
    assert report.recipients[0].status.startswith("2.")


def _dsn(subject: str = "Undelivered Mail", charset: str = "us-ascii") -> bytes:
    return f"""From: MAILER-DAEMON@mx.example.org
To: max@shop.example
Subject: {subject}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain; charset={charset}

Delivery failed for <anna@example.net>.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; anna@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b--
""".encode()


@pytest.mark.parametrize(
    "raw",
    [
        _dsn(subject="=?punycode?q?abc-+++?="),
        _dsn(charset="punycode"),
        _dsn(charset="idna"),
        _dsn(charset="punycode").replace(b"Delivery failed", b"Zustellung f\xc3\xbcr \x80"),
    ],
    ids=["punycode-subject", "punycode-part", "idna-part", "punycode-8bit-part"],
)
def test_codecs_raising_plain_unicode_error_are_tolerated(raw: bytes) -> None:
    # The punycode/idna codecs raise UnicodeError, not UnicodeDecodeError.
    report = parse_report(raw)
    assert report.format == "rfc3464"
    assert [r.address for r in report.recipients] == ["anna@example.net"]


def test_non_ascii_digits_in_reply_code() -> None:
    raw = """From: MAILER-DAEMON@mx.example.org
To: max@shop.example
Subject: Undelivered Mail
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Delivery failed.

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; anna@example.net
Action: failed
Status: 5.1.1
X-SMTP-Reply-Code: ²²²
""".encode()
    report = parse_report(raw)
    assert report.format == "rfc3464"
    [rcpt] = report.recipients
    assert (rcpt.address, rcpt.status, rcpt.code) == ("anna@example.net", "5.1.1", None)


@pytest.mark.parametrize(
    "notice",
    [
        '{"notificationType": "Bounce", "bounce": ["x"]}',
        '{"notificationType": "Complaint", "complaint": "abuse"}',
        '{"notificationType": "Delivery", "delivery": [1, 2]}',
    ],
)
def test_ses_notice_whose_body_is_no_object(notice: str) -> None:
    raw = f"From: no-reply@amazonses.com\nSubject: SES\n\n{notice}\n".encode()
    assert amazonses.detect(Mail(mime.parse_bytes(raw))) is None
    assert parse_report(raw).format != "unreadable"


def test_a_failing_detector_does_not_make_the_report_unreadable(monkeypatch) -> None:
    def broken(mail: Mail) -> None:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(detectors, "ORDERED", (("broken", broken), *detectors.ORDERED))
    report = parse_report(COURIER_DELAY)
    assert (report.kind, report.format) == ("delay", "rfc3464")
    assert [r.address for r in report.recipients] == ["max@example.org"]
