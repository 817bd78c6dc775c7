"""Which references prove a report's recipient (relay.inbound.matching), and when two reports
are the same (relay.inbound.fingerprint): on a real SQLite store, reports built in memory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bounces import RecipientResult, Report
from bounces.verp import encode_ref, encode_token, ref_matches, split_ref
from relay.inbound.fingerprint import fingerprint
from relay.inbound.matching import match_report
from relay.store.db import Database
from relay.store.reports import recipients_of_message
from tests.store_fixtures import new_database, queue_message

SECRET = b"s" * 32
DOMAIN = "bounces.relay.example.net"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return new_database(tmp_path, "shop")


def _ids(db: Database, queue_id: str) -> dict[str, int]:
    return {r.address: r.id for r in recipients_of_message(db.read(), queue_id)}


def _report(*headers: tuple[str, str], message_id: str | None = None) -> Report:
    failed = RecipientResult(
        "max@example.org", "failed", "5.1.1", "userunknown", "550 5.1.1 no", None, 550, True
    )
    return Report(
        kind="bounce",
        recipients=[failed],
        message_id=message_id,
        returned_headers=list(headers),
    )


def _match(db: Database, report: Report, rcpt_tos: list[str] | None = None):  # type: ignore[no-untyped-def]
    return match_report(db.read(), report, rcpt_tos or [], SECRET, DOMAIN)


def test_a_signed_bounce_address_quoted_anywhere_in_the_returned_headers_proves(
    db: Database,
) -> None:
    queue_id = queue_message(db, "max@example.org", "eva@example.org")
    eva = _ids(db, queue_id)["eva@example.org"]
    token = encode_token(SECRET, eva)
    for name, value in [
        ("Return-Path", f"<b-{token}@{DOMAIN}>"),
        ("X-Original-To", f"b-{token.upper()}@{DOMAIN}"),  # an MTA that upper-cases
        ("Received", f"from x by y (envelope-from b-{token}@old-bounces.example.net)"),
    ]:
        found = _match(db, _report((name, value)))
        assert found is not None and (found.recipient, found.how) == (eva, "bounce-address")
        assert found.verified
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    found = _match(db, _report(("Return-Path", f"<b-{forged}@{DOMAIN}>")))
    assert found is None


def test_the_report_reference_proves_only_its_own_recipient(db: Database) -> None:
    queue_id = queue_message(db, "max@example.org", "eva@example.org")
    ids = _ids(db, queue_id)
    ref = encode_ref(SECRET, queue_id, "Eva@example.org")  # the MAC ignores the case
    found = _match(db, _report(("X-Report-Ref", ref)))
    assert found is not None and (found.recipient, found.how) == (
        ids["eva@example.org"],
        "report-ref",
    )
    # Altered: another message's id with eva's MAC, or a MAC made with another secret.
    other = queue_message(db, "eva@example.org")
    moved = ref.replace(queue_id.lower(), other.lower())
    assert _match(db, _report(("X-Report-Ref", moved))) is None
    assert (
        _match(db, _report(("X-Report-Ref", encode_ref(b"x" * 32, queue_id, "eva@example.org"))))
        is None
    )
    assert split_ref("not a reference") is None
    assert not ref_matches(SECRET, queue_id, "max@example.org", split_ref(ref)[1])  # type: ignore[index]


def test_a_quoted_message_id_alone_is_a_claim_not_a_proof(db: Database) -> None:
    queue_id = queue_message(db, "max@example.org", message_id="<order-9001@shop.example>")
    found = _match(db, _report(message_id="<order-9001@shop.example>"))
    assert found is not None and found.how == "message-id" and not found.verified
    assert found.recipient == _ids(db, queue_id)["max@example.org"]


def test_the_envelope_token_wins_over_what_the_report_quotes(db: Database) -> None:
    queue_id = queue_message(db, "max@example.org", "eva@example.org")
    ids = _ids(db, queue_id)
    to = f"b-{encode_token(SECRET, ids['max@example.org'])}@{DOMAIN}"
    quoted = ("X-Report-Ref", encode_ref(SECRET, queue_id, "eva@example.org"))
    found = _match(db, _report(quoted), [to])
    assert found is not None and found.recipient == ids["max@example.org"]


def test_the_same_report_has_the_same_fingerprint_and_other_news_another() -> None:
    report = _report(message_id="<m@x>")
    assert fingerprint(report, 7) == fingerprint(replace(report), 7)
    assert fingerprint(report, 7) != fingerprint(report, 8)  # another recipient
    other = replace(report, recipients=[replace(report.recipients[0], status="5.2.2")])
    assert fingerprint(report, 7) != fingerprint(other, 7)
    # What differs between two copies of one report does not count: spacing, case.
    copy = replace(
        report,
        recipients=[replace(report.recipients[0], diagnostic="550  5.1.1\tno")],
        returned_headers=[("Received", "by another hop")],
    )
    assert fingerprint(report, 7) == fingerprint(copy, 7)


def test_reports_without_a_status_are_told_apart_by_their_text() -> None:
    reply = Report(kind="autoreply", message_id="<m@x>")
    away = fingerprint(reply, 7, b"I am away until Monday.\n")
    assert away == fingerprint(reply, 7, b"I am away  until Monday.\r\n")  # spacing
    assert away != fingerprint(reply, 7, b"I have left the company.\n")


def test_two_different_auto_replies_count_and_a_repeat_does_not(db: Database) -> None:
    from bounces import parse_report
    from relay.inbound.reports import apply_parsed
    from relay.store.reports import store_raw

    queue_id = queue_message(db, "max@example.org")
    to = f"b-{encode_token(SECRET, _ids(db, queue_id)['max@example.org'])}@{DOMAIN}"

    def receive(body: str, message_id: str) -> str:
        raw = (
            f"From: max@example.org\r\nTo: {to}\r\nSubject: Auto: away\r\n"
            f"Auto-Submitted: auto-replied\r\nMessage-ID: {message_id}\r\n\r\n{body}\r\n"
        ).encode()
        with db.transaction() as tx:
            report_id = store_raw(tx, raw, "", [to])
            outcome = apply_parsed(tx, report_id, parse_report(raw), [to], SECRET, DOMAIN)
        assert outcome.kind == "autoreply", outcome
        return outcome.status

    assert receive("I am away until Monday.", "<a1@example.org>") == "matched"
    assert receive("I am away until Monday.", "<a2@example.org>") == "duplicate"  # resent
    assert receive("I have left the company.", "<a3@example.org>") == "matched"


def test_the_history_says_an_unverified_report_changed_nothing() -> None:
    from relay.event_words import event_words

    detail = {"report": 5, "report_kind": "complaint", "verified": False}
    detail["claimed"] = "spam complaint (abuse)"
    assert event_words("report", detail) == (
        "unverified report 5 (spam complaint (abuse)): no signed reference, so no effect"
    )
    assert "ohne Wirkung" in event_words("report", detail, "de")
    assert event_words("report", {"report": 6, "report_kind": "autoreply"}) == (
        "autoreply (report 6)"
    )
