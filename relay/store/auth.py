"""Failed SMTP AUTH per client address, shared by every worker (relay.smtp.auth)."""

import time

from relay.store.sql import Conn, Tx, execute, row


def auth_failures(conn: Conn, ip: str) -> tuple[int, float] | None:
    """(failures, time of the last one) of this address, or None."""
    found = row(conn, "SELECT count, last FROM auth_failures WHERE ip = ?", (ip,))
    return (int(found["count"]), float(found["last"])) if found else None


def record_auth(tx: Tx, ip: str, failed: bool, forget_after: float) -> None:
    """A success wipes the address's count; a failure adds one (a count older than
    `forget_after` starts again at one)."""
    if not failed:
        execute(tx, "DELETE FROM auth_failures WHERE ip = ?", (ip,))
        return
    now = time.time()
    # Forgotten counts go: scanners that fail once and never return must not grow the table.
    execute(tx, "DELETE FROM auth_failures WHERE last < ?", (now - forget_after,))
    execute(
        tx,
        "INSERT INTO auth_failures (ip, count, last) VALUES (?, 1, ?) ON CONFLICT (ip) DO UPDATE"
        " SET count = CASE WHEN ? - auth_failures.last > ? THEN 1"
        " ELSE auth_failures.count + 1 END, last = excluded.last",
        (ip, now, now, forget_after),
    )
