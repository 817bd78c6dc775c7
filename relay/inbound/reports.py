"""Stored reports: the raw bytes first (never dropped), then what parsing and matching found."""

import dataclasses
import json
import sqlite3
import time
from dataclasses import dataclass

from bounces import Report, parse_report, report_to_dict
from relay.inbound.effects import apply_report
from relay.inbound.matching import match_report
from relay.store.suppression import add_optout
from relay.unsubscribe import MAILTO_PREFIX


@dataclass(frozen=True)
class Outcome:
    report_id: int
    kind: str
    status: str  # matched | unrecognized | opt-out
    effect: str
    message: str | None = None  # the matched message and recipient address (for the log)
    address: str | None = None


def store_raw(conn: sqlite3.Connection, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> int:
    cur = conn.execute(
        "INSERT INTO reports (received_at, mail_from, rcpt_to, raw) VALUES (?,?,?,?)",
        (time.time(), mail_from, json.dumps(rcpt_tos), raw),
    )
    return int(cur.lastrowid or 0)


def unprocessed(conn: sqlite3.Connection) -> list[int]:
    """Reports stored but not processed (the process stopped in between)."""
    return [r[0] for r in conn.execute("SELECT id FROM reports WHERE status = 'new'")]


def load_raw(conn: sqlite3.Connection, report_id: int) -> tuple[bytes, list[str]]:
    row = conn.execute("SELECT raw, rcpt_to FROM reports WHERE id = ?", (report_id,)).fetchone()
    return bytes(row[0]), json.loads(row[1])


def apply_parsed(
    conn: sqlite3.Connection,
    report_id: int,
    report: Report,
    rcpt_tos: list[str],
    secret: bytes,
    bounce_domain: str,
) -> Outcome:
    """Match and apply in the caller's transaction; parsing happened before (it is pure).
    A report is applied once: a second worker recovering it finds it done already."""
    row = conn.execute("SELECT status FROM reports WHERE id = ?", (report_id,)).fetchone()
    if row is None or row[0] != "new":
        return Outcome(report_id, report.kind, row[0] if row else "missing", "already processed")
    optout = _mailto_optout(conn, rcpt_tos, bounce_domain)
    if optout:
        return _finish(conn, report_id, report, "opt-out", None, optout)
    match = match_report(conn, report, rcpt_tos, secret, bounce_domain)
    if match is None:
        return _finish(conn, report_id, report, "unrecognized", None, "kept for review")
    effect = apply_report(conn, report_id, report, match)
    outcome = _finish(conn, report_id, report, "matched", match.recipient, effect)
    return dataclasses.replace(outcome, message=match.message, address=match.address)


def _finish(
    conn: sqlite3.Connection,
    report_id: int,
    report: Report,
    status: str,
    recipient: int | None,
    effect: str,
) -> Outcome:
    parsed = {**report_to_dict(report), "effect": effect}
    conn.execute(
        "UPDATE reports SET kind = ?, status = ?, recipient = ?, parsed = ? WHERE id = ?",
        (report.kind, status, recipient, json.dumps(parsed), report_id),
    )
    return Outcome(report_id, report.kind, status, effect)


def mailto_token(address: str, bounce_domain: str) -> str | None:
    """The token of one of our List-Unsubscribe mailto addresses (u-...@bounce domain)."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    if domain == bounce_domain.lower() and local.startswith(MAILTO_PREFIX):
        return local
    return None


def _mailto_optout(conn: sqlite3.Connection, rcpt_tos: list[str], bounce_domain: str) -> str:
    """A message to the List-Unsubscribe mailto (RFC 8058 keeps mailto as the fallback)."""
    for address in rcpt_tos:
        local = mailto_token(address, bounce_domain)
        if local is None:
            continue
        row = conn.execute(
            "SELECT shop, address, kind FROM unsubscribe_mailto WHERE token = ?", (local,)
        ).fetchone()
        if row:
            add_optout(conn, row[0], row[1], row[2], "mailto")
            return f"opted out {row[1]} of {row[2]} at {row[0]}"
    return ""


def parse(raw: bytes) -> Report:
    return parse_report(raw)


def list_reports(conn: sqlite3.Connection, unrecognized: bool, limit: int = 100) -> list[dict]:
    sql = "SELECT id, received_at, mail_from, rcpt_to, kind, status, recipient, parsed FROM reports"
    if unrecognized:
        sql += " WHERE status = 'unrecognized'"
    rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [
        {**dict(r), "rcpt_to": json.loads(r["rcpt_to"]), "parsed": json.loads(r["parsed"])}
        for r in rows
    ]
