"""Locks that say who runs: a node's name, and periodic work done by one node at a time.

- The node lock: held by `relay serve` (the supervisor, or the one process) as long as it
  runs. A second `relay serve` with the same node name on the same database, or `relay db
  copy` while a relay serves, finds it taken. SQLite: flock() on `<database>.serve-lock`;
  PostgreSQL: the session-level advisory lock `node:<name>`. Both end with the process,
  also on SIGKILL (the kernel closes the file and the socket; the server ends the session).
- Lock sessions (PostgreSQL only): one dedicated connection holding session-level advisory
  locks by name (`periodic:webhooks`, ...), so that one node at a time runs each periodic job.
  When the connection drops, the server frees its locks: the holder must stop that work
  (relay.serve.singleton checks the connection and re-takes the locks on a new one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any, Protocol

PRIVATE_FILE = 0o600


class NodeLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""

    def alive(self) -> bool:
        """Whether it is still held (a PostgreSQL session can drop)."""

    def release(self) -> None: ...


def serve_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".serve-lock")


class FileNodeLock:
    """flock() on a file beside the SQLite database; the holder's pid is written into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid written by the process that holds it (for messages)."""
        with contextlib.suppress(OSError):
            return self.path.read_text().strip()
        return "?"

    def alive(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LockSession:
    """Advisory locks by name on one dedicated PostgreSQL connection (blocking calls: run
    them in a thread from an event loop)."""

    def __init__(self, connect: Any) -> None:
        self._connect = connect
        self._conn: Any = None
        self.held: set[str] = set()

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def try_lock(self, name: str) -> bool:
        from relay.store import postgres

        if name in self.held:
            return True
        try:
            taken = postgres.try_lock(self._connection(), name)
        except postgres.psycopg.Error as exc:
            self._drop()
            raise postgres.translate(exc) from exc
        if taken:
            self.held.add(name)
        return taken

    def unlock(self, name: str) -> None:
        from relay.store import postgres

        if name not in self.held:
            return
        self.held.discard(name)
        with contextlib.suppress(postgres.psycopg.Error):
            postgres.unlock(self._connection(), name)

    def alive(self) -> bool:
        """Whether the session (and so every lock it holds) is still there: one round trip.
        False drops the connection; every lock it held is gone."""
        from relay.store import postgres

        if self._conn is None:
            return not self.held
        try:
            self._conn.execute("SELECT 1")
        except postgres.psycopg.Error:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        self.held.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._drop()


class AdvisoryNodeLock:
    """The node's name as an advisory lock, on a session of its own."""

    def __init__(self, connect: Any, node: str) -> None:
        self._session = LockSession(connect)
        self._name = f"node:{node}"

    def acquire(self) -> bool:
        """Raises StoreError when the server cannot be reached (that is not "taken")."""
        return self._session.try_lock(self._name)

    def alive(self) -> bool:
        return self._session.alive() and self._name in self._session.held

    def release(self) -> None:
        self._session.close()
