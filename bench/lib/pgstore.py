"""PostgreSQL for benchmarks: started the way the tests start it (tests/rig/postgres.py), but
durable (fsync, full-page writes and synchronous_commit on, as in production), in a directory
on disk; and the CPU its processes used."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.rig.postgres import PostgresServer

_TICK = os.sysconf("SC_CLK_TCK")


def durable_server(parent: Path | None = None) -> PostgresServer:
    root = Path(tempfile.mkdtemp(prefix="bench-pg-", dir=parent))
    return PostgresServer(root=root, durable=True).start()


def postmaster_pid(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


def server_cpu(server: PostgresServer) -> float:
    """CPU seconds of the postmaster and its processes, those running and those that ended
    (a process's children's times count once they are reaped)."""
    pid = postmaster_pid(server)
    total = _cpu(pid, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _cpu(pid: int, children: bool) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK
