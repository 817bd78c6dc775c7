"""One node's run of `relay serve`: what happens once per node, before its workers start and
after they stop, and the heartbeat its worker 0 writes meanwhile.

Start: open (and migrate) the store; take the node lock (relay.store.locks: a second `relay
serve` with the same node name on the same database, or a `relay db copy` running, is refused
with who holds it); give back the leases this node held when it last stopped (nothing of it
runs yet: they are all dead ones; other nodes' leases are theirs); register the node (pid,
version, workers); empty this run's metrics directory. The lock is checked every few seconds
while the node runs: a PostgreSQL session can drop, and if another process took the name
meanwhile this node stops rather than share it (both would give back each other's leases).
Stop: the node says it stopped cleanly, and lets the lock go.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from config import Config
from relay.errors import SetupError
from relay.keys import load_secret
from relay.metrics import prepare_run, relay_version
from relay.runtime import open_store
from relay.store.db import Database, Write
from relay.store.errors import StoreError
from relay.store.locks import FileNodeLock, NodeLock
from relay.store.nodes import (
    HEARTBEAT_EVERY,
    find_node,
    heartbeat,
    node_stopped,
    others_with_other_keys,
    register_node,
)
from relay.store.recipients import node_name, release_leases

log = logging.getLogger("relay")
LOCK_CHECK_EVERY = 5.0


class NodeRun:
    def __init__(self, config: Config, workers: int) -> None:
        self.config, self.workers = config, workers
        self.node = node_name(config.store.node)
        self.db: Database | None = None
        self.lock: NodeLock | None = None
        self._stop = threading.Event()

    def start(self) -> Database:
        """Raises SetupError when the store cannot be opened, other users can read it, or
        another process holds this node's lock."""
        db = open_store(self.config, name=f"relay/{self.node}")
        try:
            self.lock = take_node_lock(db, self.node)
            keys = keys_fingerprint(self.config)
            refuse_other_keys(db, self.node, keys)
            with db.transaction() as tx:
                released = release_leases(tx, node=self.node)
                register_node(
                    tx,
                    self.node,
                    pid=os.getpid(),
                    version=relay_version(),
                    workers=self.workers,
                    metrics=self.config.http.listen,
                    keys=keys,
                )
        except (StoreError, SetupError, FileNotFoundError) as exc:
            if self.lock is not None:
                self.lock.release()
            db.close()
            raise SetupError(str(exc)) from None
        if released:
            log.info("requeued %d recipients this node held when it stopped", released)
        prepare_run(self.config.data_dir)
        self.db = db
        threading.Thread(target=self._keep_lock, name="node-lock", daemon=True).start()
        return db

    def stop(self) -> None:
        self._stop.set()
        if self.db is None:
            return
        try:
            with self.db.transaction() as tx:
                node_stopped(tx, self.node, os.getpid())
        except StoreError as exc:
            log.warning("could not record that node %s stopped: %s", self.node, exc)
        if self.lock is not None:
            self.lock.release()
        self.db.close()
        self.db = None

    def _keep_lock(self) -> None:
        while not self._stop.wait(LOCK_CHECK_EVERY):
            lock = self.lock
            if lock is None or lock.alive():
                continue
            try:
                if lock.acquire():
                    log.warning("node %s: database session dropped; lock retaken", self.node)
                    continue
            except StoreError as exc:
                log.warning("node %s: cannot reach the database: %s", self.node, exc)
                continue
            log.error(
                "node %s: another process took this node's name while the database session was"
                " down; stopping so that two nodes never share one name",
                self.node,
            )
            os.kill(os.getpid(), signal.SIGTERM)
            return


def keys_fingerprint(config: Config) -> str:
    """A fingerprint of the keys every node of one relay must share: the HMAC secret (bounce
    addresses and opt-out links signed by one node are checked by another) and the fallback
    DKIM key. An HMAC of a constant, so it tells nothing about the keys."""
    fallback = config.data_dir / "dkim" / "fallback.pem"
    material = load_secret(config.data_dir) + (fallback.read_bytes() if fallback.exists() else b"")
    return hmac.new(material, b"relay node keys", hashlib.sha256).hexdigest()[:16]


def refuse_other_keys(db: Database, node: str, keys: str) -> None:
    others = others_with_other_keys(db.read(), node, keys)
    if others:
        data = "var/secret.key and var/dkim/fallback.pem"
        raise SetupError(
            f"node {others[0]} runs with other keys than this node: every node of one relay"
            f" needs the same {data} (bounces and opt-out links signed by one node are checked"
            f" by another); copy them from {others[0]}'s data directory to this one"
        )


def take_node_lock(db: Database, node: str) -> NodeLock:
    """The node lock, or SetupError saying who holds it and what to do."""
    lock = db.node_lock(node)
    if lock.acquire():
        return lock
    if isinstance(lock, FileNodeLock):
        raise SetupError(
            f"another process (pid {lock.holder()}: a relay serve, or relay db copy) is using"
            f" the database {db.display_url}; stop it first"
        )
    other = find_node(db.read(), node)
    seen = (
        f" (pid {other['pid']}, last heartbeat {time.time() - other['heartbeat_at']:.0f} s ago)"
        if other
        else ""
    )
    raise SetupError(
        f"another relay serve runs as node {node!r} on {db.display_url}{seen}; give each node"
        " its own name in [store] node, or stop the other one"
    )


async def beat(write: Write, node: str, periodic: Callable[[], list[str]]) -> None:
    """Worker 0's heartbeat: every HEARTBEAT_EVERY seconds, with the periodic jobs it runs."""
    while True:
        try:
            await write(lambda tx: heartbeat(tx, node, periodic()))
        except StoreError as exc:
            log.warning("node %s: heartbeat not written: %s", node, exc)
        await asyncio.sleep(HEARTBEAT_EVERY)
