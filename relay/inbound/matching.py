"""Which of our recipients a report is about (DESIGN "Bounce flow" step 4).

By the envelope token first (the signed b-<token> address the report was sent to, or quoted in
it); else by the Message-ID of the returned message plus the failed address; else nothing, and
the report stays stored as unrecognized.
"""

import sqlite3
from dataclasses import dataclass

from bounces import Report
from bounces.verp import decode_token, token_of


@dataclass(frozen=True)
class Match:
    recipient: int
    message: str
    shop: str
    address: str
    state: str
    how: str  # "token" | "message-id"


def match_report(
    conn: sqlite3.Connection, report: Report, rcpt_tos: list[str], secret: bytes, bounce_domain: str
) -> Match | None:
    tokens = [token_of(a, bounce_domain) for a in rcpt_tos] + [report.token]
    for token in tokens:
        rid = decode_token(secret, token) if token else None
        found = _by_id(conn, rid, "token") if rid is not None else None
        if found:
            return found
    if report.message_id:
        return _by_message_id(conn, report)
    return None


def _by_id(conn: sqlite3.Connection, rid: int, how: str) -> Match | None:
    row = conn.execute(
        "SELECT r.id, r.message, m.shop, r.address, r.state FROM recipients r"
        " JOIN messages m ON m.id = r.message WHERE r.id = ?",
        (rid,),
    ).fetchone()
    return Match(row[0], row[1], row[2], row[3], row[4], how) if row else None


def _by_message_id(conn: sqlite3.Connection, report: Report) -> Match | None:
    message_id = report.message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    rows = conn.execute(
        "SELECT r.id, r.message, m.shop, r.address, r.state FROM recipients r"
        " JOIN messages m ON m.id = r.message WHERE m.message_id = ?",
        (message_id,),
    ).fetchall()
    if not rows:
        return None
    named = {rr.address.lower() for rr in report.recipients}
    chosen = [r for r in rows if r[3].lower() in named] or (rows if len(rows) == 1 else [])
    if not chosen:
        return None
    row = chosen[0]
    return Match(row[0], row[1], row[2], row[3], row[4], "message-id")
