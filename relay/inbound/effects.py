"""What a matched report changes: recipient state, events, blocks (one transaction)."""

import sqlite3
import time

from bounces import RecipientResult, Report
from relay.inbound.matching import Match
from relay.store.events import EventKind, add_event
from relay.store.suppression import add_block


def apply_report(conn: sqlite3.Connection, report_id: int, report: Report, match: Match) -> str:
    """Returns a short description of the effect, stored with the report."""
    if report.kind == "complaint":
        return _complaint(conn, report_id, report, match)
    result = _result_for(report, match.address)
    if report.kind == "bounce" and result is not None and result.action == "failed":
        return _bounce(conn, report_id, result, match)
    kind = EventKind.DELAYED if report.kind == "delay" else EventKind.REPORT
    add_event(
        conn,
        kind,
        shop=match.shop,
        message=match.message,
        recipient=match.recipient,
        report=report_id,
        report_kind=report.kind,
        diagnostic=result.diagnostic if result else None,
    )
    return f"{kind} event"


def _result_for(report: Report, address: str) -> RecipientResult | None:
    for result in report.recipients:
        if result.address.lower() == address.lower():
            return result
    # Forwarded or rewritten address: the token proved the recipient; take the failure.
    failed = [r for r in report.recipients if r.action == "failed"]
    return failed[0] if failed else (report.recipients[0] if report.recipients else None)


def _bounce(conn: sqlite3.Connection, report_id: int, result: RecipientResult, match: Match) -> str:
    now = time.time()
    late = match.state == "delivered"
    conn.execute(
        "UPDATE recipients SET state = 'bounced', reason = ?, detail = ?, last_code = ?,"
        " last_status = ?, last_text = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
        (
            result.reason,
            result.diagnostic,
            result.code,
            result.status,
            result.diagnostic,
            now,
            match.recipient,
        ),
    )
    add_event(
        conn,
        EventKind.BOUNCED,
        shop=match.shop,
        message=match.message,
        recipient=match.recipient,
        at=now,
        report=report_id,
        reason=result.reason,
        status=result.status,
        diagnostic=result.diagnostic,
        remote_mta=result.remote_mta,
        late=late,
    )
    if result.dead_address:
        add_block(
            conn, match.address, result.reason, f"report:{report_id}", note=result.diagnostic[:300]
        )
    return f"bounced ({result.reason}{', blocked' if result.dead_address else ''})"


def _complaint(conn: sqlite3.Connection, report_id: int, report: Report, match: Match) -> str:
    # SPEC: the recipient stays delivered, plus a complained event; blocked for all shops.
    add_event(
        conn,
        EventKind.COMPLAINED,
        shop=match.shop,
        message=match.message,
        recipient=match.recipient,
        report=report_id,
        feedback_type=report.feedback_type,
    )
    add_block(
        conn,
        match.address,
        "complaint",
        f"report:{report_id}",
        note=f"spam complaint ({report.feedback_type or 'abuse'})",
    )
    return "complaint: address blocked"
