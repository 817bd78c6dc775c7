"""`relay nodes`: the nodes running `relay serve` on this database."""

from __future__ import annotations

import time

import click

from relay.cli.common import State, emit, json_option, pass_state, table, when
from relay.store.nodes import GONE_AFTER, list_nodes


@click.command()
@json_option
@pass_state
def nodes(state: State, as_json: bool) -> None:
    """Every node with its last heartbeat and the leases it holds (how many, since when, how
    many have expired). A node silent for longer than a few heartbeats is `gone`: its leases
    expire after store.lease and the other nodes take them over."""
    now = time.time()
    found = list_nodes(state.conn, now)
    for node in found:
        beat = node.get("heartbeat_at")
        node["heartbeat_age"] = round(now - beat, 1) if beat else None
    emit({"nodes": found, "gone_after": GONE_AFTER}, as_json, _render)


def _render(data: dict) -> None:
    rows = [
        [
            node["name"],
            node["state"],
            str(node.get("pid", "-")),
            node.get("version", "-"),
            when(node.get("started_at")),
            _age(node.get("heartbeat_age")),
            _leases(node),
            when(node.get("oldest_lease")),
            ", ".join(node.get("periodic", [])) or "-",
        ]
        for node in data["nodes"]
    ]
    table(rows, ["node", "state", "pid", "version", "started", "heartbeat", "leases",
                 "oldest lease", "periodic work"])  # fmt: skip


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f} s ago"


def _leases(node: dict) -> str:
    held, expired = node["leases"], node["leases_expired"]
    return f"{held} ({expired} expired)" if expired else str(held)


COMMANDS = [nodes]
