"""A throw-away relay for a benchmark: `relay init`, a relay.toml, one shop, `relay serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lib.procs import stop_process, wait_for
from relay.store.db import open_database
from relay.store.sql import rows
from tests.rig.tools import die_with_parent, free_port, port_open, tail

REPO = Path(__file__).resolve().parents[2]
SHOP = "bench"
SHOP_DOMAIN = "shop.example.com"
SENDER = f"info@{SHOP_DOMAIN}"
RECIPIENT = "customer@shop-customers.example.com"


def _pythonpath() -> str:
    extra = os.environ.get("PYTHONPATH")
    return f"{REPO}{os.pathsep}{extra}" if extra else str(REPO)


def relay_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "relay", *args]


@dataclass
class Relay:
    """One relay: its own directory, ports, database and `relay serve` process."""

    root: Path
    delivery: dict[str, Any]
    signing_workers: int | None = None  # None: the relay.toml default
    submission: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # extra environment of `relay serve`
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> key -> value
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = free_port()
        self.http_port = free_port()  # the HTTP listener (bench/webhooks calls the API)
        self.config = self.root / "relay.toml"
        self.log = self.root / "serve.log"

    @property
    def store_url(self) -> str:
        """`[store] url`: the overrides' PostgreSQL, else the SQLite file of `relay init`."""
        return self.overrides.get("store", {}).get("url") or "sqlite:///var/relay.db"

    def init(self, add_shop: bool = True) -> Relay:
        self.root.mkdir(parents=True, exist_ok=True)
        self._cli("init", "--dir", str(self.root), config=False)
        self.config.write_text(self.toml())
        if not add_shop:
            return self
        self._cli(
            "shop", "add", SHOP, "--domain", SHOP_DOMAIN, "--sender", SENDER,
            "--sender-name", "Bench Shop", "--password", "bench-password-123",
        )  # fmt: skip
        return self

    def toml(self) -> str:
        submission = {
            "listen": [f"127.0.0.1:{self.port}"],
            "listen_tls": [f"127.0.0.1:{free_port()}"],
            # smtp-source speaks neither STARTTLS nor AUTH: it submits as the shop by its IP.
            "trusted_clients": [f"127.0.0.1={SHOP}"],
            "max_sessions": 500,
            # Every load generator session comes from 127.0.0.1 and logs in after STARTTLS: the
            # per-address cap on sessions not yet logged in (25) would refuse half of them.
            "max_unauthenticated_per_address": 500,
            **self.submission,
        }
        if self.signing_workers is not None:
            submission["signing_workers"] = self.signing_workers
        http = self.http_port
        sections: dict[str, dict[str, Any]] = {
            "relay": {"hostname": "relay.example.net", "data_dir": "var"},
            "submission": submission,
            "inbound": {"listen": [f"127.0.0.1:{free_port()}"]},
            "http": {"listen": f"127.0.0.1:{http}", "public_url": f"http://127.0.0.1:{http}"},
            "delivery": {"allow_private_mx": True, **self.delivery},
        }
        for name, values in self.overrides.items():
            sections[name] = {**sections.get(name, {}), **values}
        lines = []
        for name, values in sections.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        return "\n".join(lines) + "\n"

    def start(self) -> Relay:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                relay_command("--config", str(self.config), "serve"),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, not it: we stop it in order
                preexec_fn=die_with_parent(),  # SIGTERM when the benchmark is killed
                env={**os.environ, "PYTHONPATH": _pythonpath(), **self.env},
            )

        def alive() -> bool:
            return self.proc is not None and self.proc.poll() is None

        def ready() -> bool:
            return not alive() or "relay ready" in self.log.read_text(errors="replace")

        if not wait_for(ready, 60, 0.1) or not alive() or not port_open(self.port):
            self.stop()
            raise RuntimeError(f"relay serve did not start:\n{tail(self.log)}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, timeout=30)

    def share_keys_of(self, other: Relay) -> None:
        """Nodes of one relay share its HMAC secret and fallback DKIM key (README)."""
        for name in ("secret.key", "dkim/fallback.pem"):
            shutil.copy2(other.root / "var" / name, self.root / "var" / name)

    def query(self, sql: str, *args: object) -> list[Any]:
        """Rows of a query on this relay's database, SQLite or PostgreSQL (the store's own
        helpers: the benchmark reads what the relay wrote, as the tests do)."""
        db = open_database(self.store_url, self.root, migrate=False)
        try:
            return list(rows(db.read(), sql, args))
        finally:
            db.close()

    def count(self, sql: str, *args: object) -> int:
        return int(self.query(sql, *args)[0][0])

    def messages(self) -> int:
        return self.count("SELECT count(*) FROM messages")

    def states(self) -> dict[str, int]:
        found = self.query("SELECT state, count(*) FROM recipients GROUP BY state")
        return {r[0]: int(r[1]) for r in found}

    def signed_fraction(self) -> float:
        """Share of stored recipient rows whose prefix holds a DKIM-Signature."""
        prefixes = [bytes(r[0]) for r in self.query("SELECT prefix FROM recipients")]
        signed = sum(1 for p in prefixes if p.startswith(b"DKIM-Signature:"))
        return signed / len(prefixes) if prefixes else 0.0

    def _cli(self, *args: str, config: bool = True) -> str:
        cmd = relay_command(*(["--config", str(self.config)] if config else []), *args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout
