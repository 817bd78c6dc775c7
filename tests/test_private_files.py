"""The key store is private (issue 9, item 4): the database holds every shop's DKIM key, the
password hashes and all bodies. `relay init` makes the data directory 0700 and the database
0600 (its WAL and shared-memory files follow it), and tightens what an older install left
open; `relay serve` refuses to start while the database, a DKIM key or the secret can be read
by others, and says the chmod to run."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from relay.store.db import open_database
from relay.store.shops import insert_shop
from tests.rig.tools import free_port
from tests.store_fixtures import make_shop

RELAY = [sys.executable, "-m", "relay"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def relay(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RELAY, "--config", str(root / "relay.toml"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def initialised(root: Path, workers: int = 1) -> Path:
    done = subprocess.run([*RELAY, "init", "--dir", str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ports = [free_port() for _ in range(4)]
    (root / "relay.toml").write_text(
        f'[relay]\nworkers = {workers}\n[submission]\nlisten = ["127.0.0.1:{ports[0]}"]\n'
        f'listen_tls = ["127.0.0.1:{ports[1]}"]\n[inbound]\nlisten = ["127.0.0.1:{ports[2]}"]\n'
        f'[http]\nlisten = "127.0.0.1:{ports[3]}"\n'
    )
    return root / "var"


def test_init_makes_the_data_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = initialised(tmp_path)
        assert mode(data) == 0o700
        for name in ("relay.db", "secret.key", "dkim/fallback.pem", "tls/dev-key.pem"):
            assert mode(data / name) == 0o600, name
        db = open_database("sqlite:///var/relay.db", tmp_path)  # writes: WAL and SHM appear
        with db.transaction() as tx:
            insert_shop(tx, make_shop("s"))
        for suffix in ("-wal", "-shm"):
            assert mode(data / f"relay.db{suffix}") == 0o600, suffix
        db.close()
    finally:
        os.umask(old)


def test_init_tightens_what_an_older_install_left_readable(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    data.chmod(0o755)
    (data / "relay.db").chmod(0o644)
    (data / "secret.key").chmod(0o644)
    done = subprocess.run([*RELAY, "init", "--dir", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"made {data / 'relay.db'} readable by its owner only" in done.stdout
    assert (mode(data), mode(data / "relay.db"), mode(data / "secret.key")) == (0o700, 0o600, 0o600)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "supervisor"])
@pytest.mark.parametrize("exposed", ["relay.db", "dkim/fallback.pem", "secret.key"])
def test_serve_refuses_a_key_store_others_can_read(tmp_path: Path, exposed: str, workers: int):  # type: ignore[no-untyped-def]
    data = initialised(tmp_path, workers)
    (data / exposed).chmod(0o644)
    done = relay(tmp_path, "serve")
    assert done.returncode == 1, done.stderr
    assert f"chmod 600 {data / exposed}" in done.stderr
    assert "-rw-r--r--" in done.stderr and "Traceback" not in done.stderr
    assert "relay ready" not in done.stderr + done.stdout
