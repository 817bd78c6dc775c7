"""Run the real `relay` program for integration tests: init, shops, serve, CLI, swaks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.store.db import Database, open_database
from relay.store.sql import changed, rows
from tests.rig.tools import free_port, port_open, require, wait_for_port, wait_until

RELAY = [sys.executable, "-m", "relay"]
SHOP = "mein-shop"
SHOP_PASSWORD = "correct horse battery"
SHOP_SENDER = "info@shop.example.com"


@dataclass
class RelayProcess:
    """A relay under test: its own directory, relay.toml, database and listeners."""

    root: Path
    nameserver: str
    mx_port: int
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_url: str | None = None  # None: the SQLite file of `relay init` (var/relay.db)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.submission_port = free_port()
        self.tls_port = free_port()
        self.inbound_port = self.extra.get("inbound", {}).pop("port", None) or free_port()
        self.http_port = free_port()
        self.config = self.root / "relay.toml"
        self.log = self.root / "serve.log"

    # -- set-up ---------------------------------------------------------------------------

    def init(self) -> RelayProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        self.run("init", "--dir", str(self.root), config=False)
        self.config.write_text(self._toml())
        return self

    def _toml(self) -> str:
        sections: dict[str, dict[str, Any]] = {
            "relay": {"hostname": "relay.example.net", "data_dir": "var"},
            "submission": {
                "listen": [f"127.0.0.1:{self.submission_port}"],
                "listen_tls": [f"127.0.0.1:{self.tls_port}"],
                "auth_failure_delay": "200ms",
            },
            "inbound": {"listen": [f"127.0.0.1:{self.inbound_port}"]},
            "http": {
                "listen": f"127.0.0.1:{self.http_port}",
                "public_url": f"http://127.0.0.1:{self.http_port}",
            },
            "delivery": {
                "smtp_port": self.mx_port,
                "nameservers": [self.nameserver],
                "sending_ips": ["127.0.0.1"],
                "retry_schedule": "1s, 2s, 2s, 3s*20",
                "max_age": "1h",
                "allow_private_mx": True,
                "connect_timeout": "3s",
            },
            "dns": {"spf_include": "_spf.relay.example.net"},
        }
        if self.store_url:
            sections["store"] = {"url": self.store_url}
        for name, values in self.extra.items():
            sections.setdefault(name, {}).update(values)
        lines = []
        for name, values in sections.items():
            lines.append(f"[{name}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        return "\n".join(lines) + "\n"

    def add_shop(
        self, name: str = SHOP, domain: str = "shop.example.com", language: str = "de"
    ) -> None:
        self.run(
            "shop",
            "add",
            name,
            "--domain",
            domain,
            "--sender",
            f"info@{domain}",
            "--sender-name",
            "Mein Shop" if name == SHOP else name.replace("-", " ").title(),  # one name per shop
            "--language",
            language,
            "--password",
            SHOP_PASSWORD,
        )

    def share_keys_of(self, other: RelayProcess) -> None:
        """Use `other`'s HMAC secret and fallback DKIM key: nodes of one relay must share them
        (bounce addresses and opt-out links signed by one node verify on every node)."""
        for name in ("secret.key", "dkim/fallback.pem"):
            shutil.copy2(other.root / "var" / name, self.root / "var" / name)

    # -- serve ----------------------------------------------------------------------------

    def start(self, *serve_args: str, verbose: bool = False) -> RelayProcess:
        """Start `relay serve` and return once it says every worker is ready: an open port
        alone is not proof (with several workers, the first one open answers)."""
        env = {**os.environ, "RELAY_CONFIG": str(self.config)}
        offset = self.log.stat().st_size if self.log.exists() else 0
        command = [*RELAY, *(["-v"] if verbose else []), "serve", *serve_args]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )

        def ready() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"relay serve exited at start-up:\n{self.log_text()}")
            with self.log.open("rb") as log:
                log.seek(offset)
                return b"relay ready" in log.read()

        try:
            wait_until(ready, 30, "relay serve to be ready", interval=0.05)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}:\n{self.log_text()}") from None
        for port in (self.submission_port, self.tls_port, self.inbound_port, self.http_port):
            wait_for_port(port, timeout=5, alive=lambda: self.proc.poll() is None)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code, self.proc = self.proc.returncode, None
        return code

    def kill(self) -> None:
        """SIGKILL `relay serve` (the supervisor): its workers must die with it."""
        self.stop(signal.SIGKILL)
        wait_until(
            lambda: not port_open(self.submission_port),
            10,
            "every worker to die with the killed supervisor",
            interval=0.05,
        )

    # -- CLI ------------------------------------------------------------------------------

    def run(
        self,
        *args: str,
        config: bool = True,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [*RELAY, *(["--config", str(self.config)] if config else []), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if check and done.returncode != 0:
            raise AssertionError(f"relay {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def recipients(self, **filters: str) -> list[dict[str, Any]]:
        args = [item for key, value in filters.items() for item in (f"--{key}", value)]
        return self.json("messages", *args)

    def wait_state(
        self, address: str, states: set[str], timeout: float = 30, count: int = 1
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []

        def reached() -> bool:
            nonlocal rows
            rows = [r for r in self.recipients(to=address) if r["status"] in states]
            return len(rows) >= count

        try:
            wait_until(reached, timeout, f"{address} to reach {states}", interval=0.3)
        except TimeoutError:
            raise AssertionError(
                f"{address} never reached {states}: "
                f"{self.recipients(to=address)}\n{self.log_text()}"
            ) from None
        return rows

    def open_db(self) -> Database:
        """The relay's database, as a test reads it (close it after use)."""
        return open_database(self.store_url or "sqlite:///var/relay.db", self.root)

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows of a query on the relay's database (either engine), as dicts."""
        db = self.open_db()
        try:
            return [dict(r) for r in rows(db.read(), sql, args)]
        finally:
            db.close()

    def execute(self, sql: str, *args: Any) -> int:
        """Change the relay's database behind its back (a test's set-up); rows changed."""
        db = self.open_db()
        try:
            with db.transaction() as tx:
                return changed(tx, sql, args)
        finally:
            db.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def swaks(
    port: int,
    *args: str,
    tls: str = "starttls",
    auth: bool = True,
    user: str = SHOP,
    password: str = SHOP_PASSWORD,
) -> subprocess.CompletedProcess[str]:
    """Submit with swaks (a real SMTP client); returns the finished process (stdout: dialog)."""
    require("swaks")
    cmd = ["swaks", "--server", f"127.0.0.1:{port}", "--timeout", "30"]
    cmd += {"starttls": ["-tls"], "implicit": ["-tlsc"], "none": []}[tls]
    if auth:
        cmd += ["--auth", "PLAIN", "--auth-user", user, "--auth-password", password]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)


def shop_mail(
    relay: RelayProcess,
    to: str,
    *headers: str,
    header_from: str = SHOP_SENDER,
    body: str | None = None,
    tls: str = "starttls",
    auth: bool = True,
) -> subprocess.CompletedProcess[str]:
    """One message from the shop's sender address, as the shop's software would send it:
    swaks with AUTH over STARTTLS (or implicit TLS); `headers` are "Name: value" lines, `to`
    may list several recipients with commas. Returns the finished swaks (stdout: dialog)."""
    args = ["--from", SHOP_SENDER, "--to", to, "--header-From", header_from]
    for header in headers:
        args += ["--header", header]
    if body is not None:
        args += ["--body", body]
    port = relay.tls_port if tls == "implicit" else relay.submission_port
    return swaks(port, *args, tls=tls, auth=auth)


def submit(relay: RelayProcess, to: str, *headers: str, **options: Any) -> str:
    """shop_mail() that must be accepted; returns the queue id."""
    return queue_id(shop_mail(relay, to, *headers, **options).stdout)


def queue_id(dialog: str) -> str:
    for line in dialog.splitlines():
        if "queued as" in line:
            return line.rsplit(" ", 1)[1].strip()
    raise AssertionError(f"no queue id in:\n{dialog}")


def wait(predicate: Any, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, what, interval=0.2)


def now() -> float:
    return time.time()
