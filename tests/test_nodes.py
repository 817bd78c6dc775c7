"""Nodes (issue 10): `relay nodes` lists each `relay serve` with its heartbeat and leases; a
second `relay serve` under a name that runs already is refused; periodic work runs on one
node at a time and moves to another when its node dies (PostgreSQL advisory locks)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.serve import singleton
from relay.serve.singleton import Singletons
from relay.store.db import open_database
from relay.store.sql import value
from tests.harness import RelayProcess
from tests.held_mx import until
from tests.rig.tools import free_port, wait_until

PERIODIC = ["dns-recheck", "reports", "retention", "webhooks"]


def nodes_of(relay: RelayProcess) -> dict[str, dict]:
    return {n["name"]: n for n in relay.json("nodes")["nodes"]}


@pytest.mark.backends("sqlite", "postgresql")
def test_relay_nodes_shows_the_node_its_heartbeat_and_work_then_that_it_stopped(
    relay_factory,
) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 2}, "store": {"node": "node-a"}})
    relay.start()
    wait_until(lambda: nodes_of(relay)["node-a"]["periodic"] == PERIODIC, 20, "periodic work")
    node = nodes_of(relay)["node-a"]
    assert (node["state"], node["workers"], node["pid"]) == ("running", 2, relay.proc.pid)
    assert node["heartbeat_age"] < 10 and node["leases"] == 0
    text = relay.run("nodes").stdout
    assert (
        "node-a" in text
        and "running" in text
        and "dns-recheck, reports, retention, webhooks" in text
    )
    relay.stop()
    assert nodes_of(relay)["node-a"]["state"] == "stopped"


@pytest.mark.backends("sqlite", "postgresql")
def test_a_second_relay_serve_under_a_running_nodes_name_is_refused(relay_factory) -> None:  # type: ignore[no-untyped-def]
    first: RelayProcess = relay_factory({"store": {"node": "same"}}, name="first").start()
    url = first.store_url or f"sqlite:///{first.root}/var/relay.db"  # one database
    other_ports = {"store": {"node": "same"}, "inbound": {"port": free_port()}}
    second: RelayProcess = relay_factory(other_ports, name="second", shop=False)
    second.store_url = url
    second.config.write_text(second._toml())
    with pytest.raises(AssertionError, match="relay serve exited at start-up"):
        second.start()
    log = second.log_text()
    assert f"pid {first.proc.pid}" in log
    assert ("another relay serve runs as node 'same'" in log) or ("is using the database" in log)
    assert first.proc.poll() is None  # the first one runs on, its leases untouched


def test_periodic_work_runs_on_one_node_and_moves_when_that_node_is_gone(
    postgres_url: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(singleton, "CHECK_EVERY", 0.1)
    running: dict[str, int] = {"a": 0, "b": 0}
    starts: list[str] = []

    def job(node: str) -> Callable:
        async def run() -> None:
            running[node] += 1
            starts.append(node)
            try:
                await asyncio.sleep(3600)
            finally:
                running[node] -= 1

        return run

    async def main() -> None:
        dbs = {n: open_database(postgres_url, Path(".")) for n in ("a", "b")}
        nodes = {n: Singletons(db, first_worker=True) for n, db in dbs.items()}
        for name, node in nodes.items():
            node.add("webhooks", job(name))
            node.start()
        await until(lambda: sum(running.values()) == 1, "one node to run the job")
        await asyncio.sleep(0.5)
        assert sum(running.values()) == 1 and len(starts) == 1  # one, several checks later
        holder = starts[0]
        other = "b" if holder == "a" else "a"
        assert nodes[holder].held() == ["webhooks"] and nodes[other].held() == []

        # The holder's lock connection dies (a server restart, a cut network): the server
        # frees the lock, so the holder stops its job at once; then one node, either, runs it.
        pid = await asyncio.to_thread(value_of, nodes[holder], "SELECT pg_backend_pid()")
        value(dbs[other].read(), "SELECT pg_terminate_backend(?)", (pid,))
        await until(lambda: len(starts) == 2, "the job to start again")
        await asyncio.sleep(0.5)
        assert sum(running.values()) == 1 and len(starts) == 2

        # The node that runs it now dies (its process and connection end): the other takes over.
        holder = starts[-1]
        other = "b" if holder == "a" else "a"
        await nodes[holder].stop()  # as a process exit: its job ends, its session closes
        await until(lambda: running[other] == 1, "the other node to take the job over")
        assert starts[-1] == other and sum(running.values()) == 1
        await nodes[other].stop()
        for db in dbs.values():
            db.close()

    asyncio.run(main())


def value_of(node: Singletons, sql: str):  # type: ignore[no-untyped-def]
    """One value read on a node's lock connection."""
    return node._session._connection().execute(sql).fetchone()[0]  # type: ignore[union-attr]


def test_on_sqlite_worker_0_runs_the_periodic_work_and_the_others_none(tmp_path: Path) -> None:
    db = open_database("sqlite:///relay.db", tmp_path, create=True)
    ran: list[int] = []

    async def main() -> None:
        workers = [Singletons(db, first_worker=index == 0) for index in range(2)]
        for index, worker in enumerate(workers):
            worker.add("retention", lambda i=index: asyncio.sleep(0, ran.append(i)))
            worker.start()
        await until(lambda: bool(ran), "worker 0 to run the job")
        await asyncio.sleep(0.2)
        for worker in workers:
            await worker.stop()

    asyncio.run(main())
    assert set(ran) == {0}
    db.close()


def test_a_node_lock_lost_with_its_session_is_taken_again_unless_another_took_it(
    postgres_url: str,
) -> None:
    db = open_database(postgres_url, Path("."))
    mine, theirs = db.node_lock("node-a"), db.node_lock("node-a")
    assert mine.acquire() and not theirs.acquire()  # one holder per name
    pid = mine._session._connection().execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[attr-defined]
    value(db.read(), "SELECT pg_terminate_backend(?)", (pid,))
    assert not mine.alive()  # the server ended the session: the lock is gone with it
    assert theirs.acquire()  # ... and another process may take the name now
    assert not mine.acquire()  # so this one must not go on (relay.serve.node stops it)
    theirs.release()
    # The server frees a closed session's locks when its backend has ended, a moment later.
    deadline = time.monotonic() + 10
    while not mine.acquire() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mine.alive()
    mine.release()
    db.close()
