"""Received bounce and complaint reports (raw bytes first, never dropped), and the lookups
that match a report to one of our recipients."""

import json
import time
from dataclasses import dataclass
from typing import Any

from relay.store import hooks
from relay.store.sql import Conn, Tx, execute, insert, row, rows, serialize


@dataclass(frozen=True)
class RecipientRef:
    """One recipient row as report matching sees it."""

    id: int
    message: str
    shop: str
    address: str
    state: str


def store_raw(tx: Tx, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> int:
    return insert(
        tx,
        "INSERT INTO reports (received_at, mail_from, rcpt_to, raw) VALUES (?,?,?,?)",
        (time.time(), mail_from, json.dumps(rcpt_tos), raw),
    )


def unprocessed(conn: Conn, before: float | None = None) -> list[int]:
    """Reports stored but not processed (the process stopped in between); with `before`,
    only those received before that time (newer ones are being processed right now)."""
    if before is None:
        return [r["id"] for r in rows(conn, "SELECT id FROM reports WHERE status = 'new'")]
    found = rows(conn, "SELECT id FROM reports WHERE status = 'new' AND received_at < ?", (before,))
    return [r["id"] for r in found]


def waiting_reports(conn: Conn, before: float) -> dict[str, Any]:
    """How many reports received before `before` are still unprocessed, and the oldest's
    time (`relay status`: what the periodic sweep has not managed yet)."""
    found = row(
        conn,
        "SELECT count(*) AS n, min(received_at) AS oldest FROM reports"
        " WHERE status = 'new' AND received_at < ?",
        (before,),
    )
    return {
        "count": int(found["n"]) if found else 0,
        "oldest_at": found["oldest"] if found else None,
    }


def load_raw(conn: Conn, report_id: int) -> tuple[bytes, list[str]]:
    found = row(conn, "SELECT raw, rcpt_to FROM reports WHERE id = ?", (report_id,))
    if found is None:
        raise KeyError(f"no report {report_id}")
    return bytes(found["raw"]), json.loads(found["rcpt_to"])


def report_status(conn: Conn, report_id: int) -> str | None:
    """The report's status; inside a write transaction on PostgreSQL the row stays locked
    until the commit, so two nodes cannot both apply one report."""
    lock = conn.dialect.row_lock if isinstance(conn, Tx) else ""
    found = row(conn, "SELECT status FROM reports WHERE id = ?" + lock, (report_id,))
    return found["status"] if found else None


def finish_report(
    tx: Tx,
    report_id: int,
    kind: str,
    status: str,
    recipient: int | None,
    parsed: dict,
    fingerprint: str | None = None,
) -> None:
    """What processing found. `status`: matched (verified, applied), unverified (it only
    claims a recipient: nothing changed), duplicate (the same as an earlier report), opt-out,
    unrecognized. `recipient`: the one proven, or claimed when unverified."""
    execute(
        tx,
        "UPDATE reports SET kind = ?, status = ?, recipient = ?, parsed = ?, fingerprint = ?"
        " WHERE id = ?",
        (kind, status, recipient, json.dumps(parsed), fingerprint, report_id),
    )
    hooks.tell(tx, "report", "", kind)


def same_report(conn: Conn, recipient: int, fingerprint: str, status: str) -> int | None:
    """The first report with this status that said the same about this recipient. Inside a
    write transaction it first takes the lock of (recipient, fingerprint), held until the
    commit that records this report: of two copies of one report processed at once (two
    workers, two nodes) the second sees the first and counts as its duplicate."""
    if isinstance(conn, Tx):
        serialize(conn, f"report:{recipient}:{fingerprint}")
    found = row(
        conn,
        "SELECT min(id) AS id FROM reports WHERE recipient = ? AND fingerprint = ? AND status = ?",
        (recipient, fingerprint, status),
    )
    return int(found["id"]) if found and found["id"] is not None else None


def list_reports(
    conn: Conn, unrecognized: bool, limit: int = 100, status: str | None = None
) -> list[dict[str, Any]]:
    sql = "SELECT id, received_at, mail_from, rcpt_to, kind, status, recipient, parsed FROM reports"
    wanted = "unrecognized" if unrecognized else status
    args: tuple[Any, ...] = ()
    if wanted:
        sql, args = sql + " WHERE status = ?", (wanted,)
    found = rows(conn, sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
    return [
        {**dict(r), "rcpt_to": json.loads(r["rcpt_to"]), "parsed": json.loads(r["parsed"])}
        for r in found
    ]


_RECIPIENT = (
    "SELECT r.id, r.message, m.shop, r.address, r.state FROM recipients r"
    " JOIN messages m ON m.id = r.message"
)


def find_recipient(conn: Conn, recipient: int) -> RecipientRef | None:
    found = row(conn, _RECIPIENT + " WHERE r.id = ?", (recipient,))
    return _ref(found) if found else None


def recipients_of_message_id(conn: Conn, message_id: str) -> list[RecipientRef]:
    """The recipients of the message(s) with this Message-ID header."""
    return [_ref(r) for r in rows(conn, _RECIPIENT + " WHERE m.message_id = ?", (message_id,))]


def recipients_of_message(conn: Conn, queue_id: str) -> list[RecipientRef]:
    """The recipients of the message with this queue id (messages.id)."""
    return [_ref(r) for r in rows(conn, _RECIPIENT + " WHERE r.message = ?", (queue_id,))]


def latest_recipient(conn: Conn, shop: str, address: str, kind: str) -> RecipientRef | None:
    """The newest recipient row of this shop, address (any case) and kind."""
    found = row(
        conn,
        _RECIPIENT + " WHERE m.shop = ? AND lower(r.address) = ? AND m.kind = ?"
        " ORDER BY r.id DESC LIMIT 1",
        (shop, address.lower(), kind),
    )
    return _ref(found) if found else None


def _ref(found: Any) -> RecipientRef:
    return RecipientRef(
        found["id"], found["message"], found["shop"], found["address"], found["state"]
    )
