"""What a report changes: recipient state, events, blocks (one transaction) when it proved its
recipient; an event in the claimed recipient's history and nothing else when it did not."""

from bounces import RecipientResult, Report
from relay.inbound.matching import Match
from relay.model import EventKind, State
from relay.store.events import add_event
from relay.store.recipients import Bounce, mark_bounced
from relay.store.sql import Tx
from relay.store.suppression import add_block


def apply_report(tx: Tx, report_id: int, report: Report, match: Match) -> str:
    """Returns a short description of the effect, stored with the report."""
    if report.kind == "complaint":
        return _complaint(tx, report_id, report, match)
    result = _result_for(report, match.address)
    if report.kind == "bounce" and result is not None and result.action == "failed":
        return _bounce(tx, report_id, result, match)
    kind = EventKind.DELAYED if report.kind == "delay" else EventKind.REPORT
    add_event(
        tx,
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


def _bounce(tx: Tx, report_id: int, result: RecipientResult, match: Match) -> str:
    recipient = {"id": match.recipient, "message": match.message, "shop": match.shop}
    bounce = Bounce(result.reason, result.status, result.code, result.diagnostic)
    late = match.state == State.DELIVERED
    moved = mark_bounced(
        tx, recipient, bounce, report=report_id, remote_mta=result.remote_mta, late=late
    )
    if result.dead_address:
        note = result.diagnostic[:300]
        add_block(tx, match.address, result.reason, f"report:{report_id}", note=note)
    if not moved:  # bounced (or never sent) already: the state does not move twice
        add_event(
            tx,
            EventKind.REPORT,
            shop=match.shop,
            message=match.message,
            recipient=match.recipient,
            report=report_id,
            report_kind="bounce",
            diagnostic=result.diagnostic,
        )
        return f"recipient {match.state} already: nothing changed"
    return f"bounced ({result.reason}{', blocked' if result.dead_address else ''})"


def _complaint(tx: Tx, report_id: int, report: Report, match: Match) -> str:
    # SPEC: the recipient stays delivered, plus a complained event; blocked for all shops.
    add_event(
        tx,
        EventKind.COMPLAINED,
        shop=match.shop,
        message=match.message,
        recipient=match.recipient,
        report=report_id,
        feedback_type=report.feedback_type,
    )
    add_block(
        tx,
        match.address,
        "complaint",
        f"report:{report_id}",
        note=f"spam complaint ({report.feedback_type or 'abuse'})",
    )
    return "complaint: address blocked"


def record_unverified(tx: Tx, report_id: int, report: Report, match: Match) -> str:
    """A report that only quotes a Message-ID (SPEC "What it promises"): shown in the history of
    the message it names, with what it claims, and nothing else changes (no block, no state,
    no complained event)."""
    result = _result_for(report, match.address)
    add_event(
        tx,
        EventKind.REPORT,
        shop=match.shop,
        message=match.message,
        recipient=match.recipient,
        report=report_id,
        report_kind=report.kind,
        verified=False,
        claimed=_claim(report, result),
    )
    return (
        f"unverified {report.kind} about {match.address} (message {match.message}; no signed"
        " reference, only its Message-ID): nothing changed"
    )


def _claim(report: Report, result: RecipientResult | None) -> str:
    if report.kind == "complaint":
        return f"spam complaint ({report.feedback_type or 'abuse'})"
    if result is None:
        return report.kind
    return " ".join(x for x in (result.action, result.status or "", result.reason) if x)
