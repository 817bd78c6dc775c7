"""The nodes that run `relay serve` on this database, their heartbeats, and the leases each
holds (`relay nodes`).

A node registers when it starts (name, pid, version, workers), beats every HEARTBEAT_EVERY
seconds while it runs, and says when it stopped cleanly. A node that neither beats nor said
it stopped is gone (killed, crashed, cut off): its leases end after `store.lease` and any
other node takes them over.
"""

import json
import time
from typing import Any

from relay.model import State
from relay.store.sql import Conn, Tx, changed, execute, rows

HEARTBEAT_EVERY = 5.0
GONE_AFTER = 4 * HEARTBEAT_EVERY  # four beats missed: not a slow moment, a node that is gone


def register_node(
    tx: Tx,
    name: str,
    *,
    pid: int,
    version: str,
    workers: int,
    metrics: str = "",
    keys: str = "",
) -> None:
    now = time.time()
    execute(
        tx,
        "INSERT INTO nodes (name, pid, version, workers, started_at, heartbeat_at, stopped_at,"
        " periodic, metrics, keys) VALUES (?,?,?,?,?,?,NULL,'[]',?,?) ON CONFLICT (name) DO"
        " UPDATE SET pid = excluded.pid, version = excluded.version, workers = excluded.workers,"
        " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
        " stopped_at = NULL, periodic = '[]', metrics = excluded.metrics, keys = excluded.keys",
        (name, pid, version, workers, now, now, metrics, keys),
    )


def others_with_other_keys(conn: Conn, name: str, keys: str) -> list[str]:
    """Running nodes (not this one) whose keys differ from `keys`."""
    found = rows(
        conn,
        "SELECT name FROM nodes WHERE name <> ? AND stopped_at IS NULL AND heartbeat_at > ?"
        " AND keys <> '' AND keys <> ? ORDER BY name",
        (name, time.time() - GONE_AFTER, keys),
    )
    return [r["name"] for r in found]


def heartbeat(tx: Tx, name: str, periodic: list[str], now: float | None = None) -> bool:
    """The node is alive, running these periodic jobs; False if it is not registered."""
    now = time.time() if now is None else now
    return bool(
        changed(
            tx,
            "UPDATE nodes SET heartbeat_at = ?, periodic = ? WHERE name = ?",
            (now, json.dumps(sorted(periodic)), name),
        )
    )


def node_stopped(tx: Tx, name: str, pid: int) -> None:
    """A clean stop (the row stays: `relay nodes` shows when it stopped)."""
    now = time.time()
    execute(
        tx,
        "UPDATE nodes SET stopped_at = ?, heartbeat_at = ?, periodic = '[]'"
        " WHERE name = ? AND pid = ?",
        (now, now, name, pid),
    )


def find_node(conn: Conn, name: str) -> dict[str, Any] | None:
    found = rows(conn, "SELECT * FROM nodes WHERE name = ?", (name,))
    return dict(found[0]) if found else None


def list_nodes(conn: Conn, now: float | None = None) -> list[dict[str, Any]]:
    """Every node with its state (running, stopped, gone) and the leases it holds now:
    how many, since when the oldest, how many have expired (left for another node to take
    over). Lease holders that never registered (rows claimed before nodes existed) too."""
    now = time.time() if now is None else now
    leases = {
        r["node"]: r
        for r in rows(
            conn,
            "SELECT coalesce(lease_node, '') AS node, count(*) AS held, min(claimed_at) AS oldest,"
            " sum(CASE WHEN lease_expires < ? THEN 1 ELSE 0 END) AS expired"
            " FROM recipients WHERE state = ? GROUP BY coalesce(lease_node, '')",
            (now, str(State.INFLIGHT)),
        )
    }
    nodes = []
    for found in rows(conn, "SELECT * FROM nodes ORDER BY name"):
        node = dict(found)
        node["periodic"] = json.loads(node["periodic"])
        node["state"] = _state(node, now)
        node.update(_lease_summary(leases.pop(node["name"], None)))
        nodes.append(node)
    for name, held in sorted(leases.items()):  # holders without a row in nodes
        nodes.append({"name": name or "(unknown)", "state": "unknown", **_lease_summary(held)})
    return nodes


def _state(node: dict[str, Any], now: float) -> str:
    if node["stopped_at"] is not None:
        return "stopped"
    return "gone" if now - node["heartbeat_at"] > GONE_AFTER else "running"


def _lease_summary(found: Any) -> dict[str, Any]:
    if found is None:
        return {"leases": 0, "leases_expired": 0, "oldest_lease": None}
    return {
        "leases": int(found["held"]),
        "leases_expired": int(found["expired"] or 0),
        "oldest_lease": found["oldest"],
    }
