"""DNS results the sending side reads: shops' custom return paths and the relay's own check.

- `return_paths`: per shop, each verified domain whose stored check found the custom return
  path usable (`bounces.<domain>` routed to the relay, SPF passing): the envelope domain of
  that shop's mail from then on (relay.prepare.pipeline, issue 13 item 5).
- `message_return_path`: the envelope domain a message was sent with (NULL: the relay's bounce
  domain); the bounce listener accepts a bounce address at a shop's domain only when it is
  the one the token's message went out with.
- `save_relay_dns` / `relay_dns`: the last check of the relay's own records (one row), which
  `relay status` turns into warnings (dns_checks.relay_dns_warnings).
"""

import json
from dataclasses import dataclass
from typing import Any

from relay.store.sql import Conn, Tx, execute, row, rows


def return_paths(conn: Conn) -> dict[str, dict[str, str]]:
    """shop -> {verified domain: its custom return path}; read with the verified domains
    (relay.submit.ShopCache), never per message."""
    out: dict[str, dict[str, str]] = {}
    found = rows(conn, "SELECT shop, domain, report FROM dns_verdicts WHERE verified = 1")
    for verdict in found:
        name = _return_path(verdict["report"])
        if name:
            out.setdefault(verdict["shop"], {})[verdict["domain"]] = name
    return out


def _return_path(report: str) -> str | None:
    try:
        name = json.loads(report).get("return_path")
    except (ValueError, AttributeError):
        return None
    return name.lower() if isinstance(name, str) and name else None


def message_return_path(conn: Conn, recipient: int) -> str | None:
    """The custom envelope domain of the message this recipient row belongs to, or None."""
    found = row(
        conn,
        "SELECT m.return_path FROM recipients r JOIN messages m ON m.id = r.message WHERE r.id = ?",
        (recipient,),
    )
    return found["return_path"] if found else None


@dataclass(frozen=True)
class RelayDns:
    checked_at: float
    report: dict[str, Any]  # dns_checks.to_json of the relay's check


def save_relay_dns(tx: Tx, report: dict[str, Any], now: float) -> None:
    execute(
        tx,
        "INSERT INTO relay_dns (name, checked_at, report) VALUES ('relay', ?, ?) ON CONFLICT (name)"
        " DO UPDATE SET checked_at = excluded.checked_at, report = excluded.report",
        (now, json.dumps(report)),
    )


def relay_dns(conn: Conn) -> RelayDns | None:
    """The last check of the relay's own records, or None when none was stored."""
    found = row(conn, "SELECT checked_at, report FROM relay_dns WHERE name = 'relay'")
    return RelayDns(found["checked_at"], json.loads(found["report"])) if found else None
