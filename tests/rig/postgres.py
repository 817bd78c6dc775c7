"""A private PostgreSQL server for the tests: initdb in a temporary directory, pg_ctl start on a
loopback port, one database per test (CREATE DATABASE is cheap), removed at the end.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user that Debian's
package creates, in a directory that user owns. Nothing of the machine's own clusters is used.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.rig.tools import _skip_or_fail, free_port, wait_for_port

# Test settings: fsync off (the tests kill the relay, never the database server); enough
# connections for several relay nodes with their pools. `durable=True` (benchmarks) keeps
# PostgreSQL's own defaults: fsync and full-page writes on, as in production.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
}
_DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server's bin directory (package `postgresql`)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="relay-rig-pg-")))
    port: int = field(default_factory=free_port)
    durable: bool = False
    _made: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> PostgresServer:
        bindir = postgres_bin()
        if bindir is None:
            _skip_or_fail("PostgreSQL not installed: run .ci/deps (Debian package: postgresql)")
        assert bindir is not None
        self._bin = bindir
        self._chown(self.root)
        self._run("initdb", "-D", str(self.data), "-U", "relay", "--auth=trust", "-E", "UTF8")
        settings = {**_SETTINGS, **(_DURABLE if self.durable else {})}
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf += f"port = {self.port}\nunix_socket_directories = '{self.root}'\n"
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write(conf)
        log = self.root / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")
        wait_for_port(self.port, timeout=30)
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://relay@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "relay") -> str:
        """A new empty database; returns its URL."""
        self._made += 1
        name = f"{prefix}_{os.getpid()}_{self._made}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)

    def psql(self, database: str, sql: str) -> str:
        where = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "relay", "-d", database]
        done = subprocess.run(
            [str(self._bin / "psql"), "-X", "-A", "-t", "-q", *where, "-c", sql],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- running as the `postgres` user when we are root ----------------------------------

    def _as_user(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [*self._as_user(), str(self._bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")
