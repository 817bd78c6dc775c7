"""Text notices without RFC 3464 Action fields: a delay warning keeps the recipient's
action "delayed" (kind delay), a give-up makes it "failed" (kind bounce), whatever the
reason; the relay bounces a recipient only on "failed" (bounces/notice.py)."""

from __future__ import annotations

import pytest

from bounces import parse_report

ADDRESS = "anna@example.org"


def _notice(subject: str, text: str) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.net\nTo: b-token@bounces.example.com\n"
        f"Subject: {subject}\nMIME-Version: 1.0\nContent-Type: text/plain\n\n{text}\n"
        f"--- Below this line is a copy of the message.\n\n"
        f"From: shop@example.com\nTo: {ADDRESS}\nSubject: Your order\n"
    ).encode()


GIVE_UPS = {
    "queue period over": (
        "Delivery failure",
        f"Your message could not be delivered for 5 days to the following recipient\n"
        f"and has been returned:\n\n  <{ADDRESS}>\n\nThe destination server did not respond.",
    ),
    "MDaemon's Warning subject on a permanent failure": (
        f"Warning: {ADDRESS} - User unknown!",
        f"{ADDRESS} - no such user here.\n\nThere is no user by that name at this server.",
    ),
    "give-up repeating the warning's words": (
        "Mail delivery failed",
        f"This is a permanent error. The following address failed:\n\n  <{ADDRESS}>\n\n"
        "Earlier notices said delivery attempts will continue; they have stopped:\n"
        "retry timeout exceeded",
    ),
}
WARNINGS = {
    "says it is a warning": (
        "Mail Delivery Warning",
        f"This is just a warning, you do not need to take any action.\n\nYour message to:\n"
        f"  {ADDRESS}\nhas not yet been delivered because the recipient server did not\n"
        "respond. We will continue to attempt delivery for 5 days.",
    ),
    "full mailbox, retried": (
        "Mail Delivery Notice",
        f"Delivery of email to this address\n\n  {ADDRESS}\n\nhas been postponed due to a full"
        " mailbox.\nWe will continue to try to deliver your message over the next few days.",
    ),
    "only the subject says so": (
        "Warning: could not send message for past 4 hours",
        f"---The following addresses had delivery errors---\n\n{ADDRESS} [Connection timed out]",
    ),
}


@pytest.mark.parametrize("case", GIVE_UPS.values(), ids=GIVE_UPS.keys())
def test_give_up_fails_the_recipient(case: tuple[str, str]) -> None:
    report = parse_report(_notice(*case), strict=True)
    assert report.format == "generic"  # no family detector sets the action itself
    assert report.kind == "bounce"
    assert [(r.address, r.action) for r in report.recipients] == [(ADDRESS, "failed")]


@pytest.mark.parametrize("case", WARNINGS.values(), ids=WARNINGS.keys())
def test_warning_leaves_the_recipient_delayed(case: tuple[str, str]) -> None:
    report = parse_report(_notice(*case), strict=True)
    assert report.format == "generic"
    assert report.kind == "delay"
    assert [(r.address, r.action) for r in report.recipients] == [(ADDRESS, "delayed")]


def test_expired_give_up_is_failed() -> None:
    """A notice that the message expired is the sender's give-up: failed, not delayed."""
    report = parse_report(_notice(*GIVE_UPS["queue period over"]), strict=True)
    assert (report.recipients[0].reason, report.recipients[0].action) == ("expired", "failed")
