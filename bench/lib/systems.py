"""The systems bench/relay compares, each behind the same four steps.

`start()` gives the submission port (one per node when the relay runs as several nodes on
PostgreSQL), `roots()` the pids whose process trees are the system
(its CPU and memory), `check(run)` what must be true after a run, `stop()`. The relay is a
fresh instance per run (empty database); the two Postfix instances run for the whole
benchmark and are only started once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lib.opendkim import OpenDkim
from bench.lib.pgstore import postmaster_pid
from bench.lib.postfix import PostfixRelay
from bench.lib.procs import Cleanup, tree, wait_for
from bench.lib.relay import Relay
from bench.lib.sink import Sink
from bench.lib.submit import Port
from relay.store.postgres import redacted
from tests.rig.nsd import NsdServer
from tests.rig.postgres import PostgresServer

LABELS = {
    "relay": "relay",
    "postfix": "Postfix (no DKIM)",
    "postfix+opendkim": "Postfix + OpenDKIM",
}


@dataclass(frozen=True)
class Variant:
    """A relay configured otherwise, measured in the same rounds as the plain one."""

    label: str
    loop: str = ""  # relay.event_loop (uvloop | asyncio); "": relay.toml's default (uvloop)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    store: str | None = None  # sqlite | postgresql; None: --store
    nodes: int | None = None  # relay serve processes on one database; None: --nodes


def parse_variant(text: str) -> Variant:
    """LABEL=ITEM,ITEM,...; an ITEM is loop:uvloop, env:NAME=VALUE, store:postgresql,
    nodes:N or SECTION.KEY=VALUE."""
    label, _, items = text.partition("=")
    if not label or not items:
        raise ValueError(f"{text!r}: expected LABEL=ITEM[,ITEM...]")
    loop, settings, env = "", [], {}
    store: str | None = None
    nodes: int | None = None
    for item in (i.strip() for i in items.split(",") if i.strip()):
        if item.startswith("loop:"):
            loop = item[5:]
        elif item.startswith("env:"):
            name, _, value = item[4:].partition("=")
            env[name] = value
        elif item.startswith("store:"):
            store = item[6:]
            if store not in STORES:
                raise ValueError(f"{item!r}: store is one of {', '.join(STORES)}")
        elif item.startswith("nodes:"):
            nodes = int(item[6:])
        else:
            settings.append(item)
    return Variant(label, loop, relay_overrides(settings), env, store, nodes)


STORES = ("sqlite", "postgresql")


class RelaySystem:
    """The relay under measure: one `relay serve` on SQLite, or `nodes` of them (own ports
    and data directories, shared keys) on one PostgreSQL database of `pg`."""

    def __init__(
        self,
        work: Path,
        nsd: NsdServer,
        sink: Sink,
        cleanup: Cleanup,
        *,
        trusted: bool,
        signing_workers: int | None = None,
        relay_loop: str = "",
        overrides: dict[str, dict[str, Any]] | None = None,
        env: dict[str, str] | None = None,
        name: str = "relay",
        pg: PostgresServer | None = None,
        nodes: int = 1,
    ) -> None:
        self.name = name
        self.env = env or {}
        self.work, self.nsd, self.sink, self.cleanup = work, nsd, sink, cleanup
        self.trusted = trusted  # smtp-source: submit by IP; else STARTTLS + AUTH
        self.signing_workers = signing_workers
        self.overrides = overrides or {}
        if relay_loop:  # relay.event_loop; "" leaves relay.toml's default
            relay = {**self.overrides.get("relay", {}), "event_loop": relay_loop}
            self.overrides = {**self.overrides, "relay": relay}
        self.pg, self.nodes = pg, nodes
        if nodes > 1 and pg is None:
            raise ValueError(f"{name}: nodes share one PostgreSQL database (store:postgresql)")
        self.relays: list[Relay] = []
        self.runs = 0
        self.warmed = 0

    @property
    def relay(self) -> Relay | None:
        return self.relays[0] if self.relays else None

    def start(self) -> Port:
        self.runs += 1
        submission: dict[str, Any] = {} if self.trusted else {"trusted_clients": []}
        url = self.pg.create_database("bench") if self.pg is not None else None
        for index in range(self.nodes):
            store = {"url": url, "node": f"node-{index}"} if url else {}
            relay = Relay(
                self.work / f"{self.name.replace(':', '-')}-{self.runs}-{index}",
                delivery={
                    "nameservers": [self.nsd.nameserver],
                    "smtp_port": self.sink.port,
                    "retry_schedule": "5s",
                    "max_age": "1h",
                    "connect_timeout": "5s",
                },
                signing_workers=self.signing_workers,
                submission=submission,
                env=self.env,
                overrides={**self.overrides, "store": {**self.overrides.get("store", {}), **store}},
            )
            relay.init(add_shop=index == 0)  # the shop is in the shared database once
            if self.relays:
                relay.share_keys_of(self.relays[0])
            self.cleanup.add(relay.stop)
            relay.start()
            self.relays.append(relay)
            print(f"  relay serve pid {relay.pid}, submission 127.0.0.1:{relay.port}"
                  f"{f', node {index} on {redacted(url)}' if url else ''}", flush=True)  # fmt: skip
        ports = [r.port for r in self.relays]
        return ports if len(ports) > 1 else ports[0]

    def roots(self) -> list[int]:
        """Every node's `relay serve`."""
        return [r.pid for r in self.relays if r.proc]

    def database_roots(self) -> list[int]:
        """PostgreSQL's postmaster: its backends do the relay's database work, so their CPU
        is the relay's (bench.lib.e2e adds it); their memory is the server's, not counted."""
        return [postmaster_pid(self.pg)] if self.pg is not None and self.relays else []

    def check(self, accepted: int) -> list[str]:
        """Every accepted message delivered (rows in state `delivered`) and signed."""
        relay = self.relay
        assert relay is not None
        want = accepted + self.warmed
        wait_for(lambda: relay.states().get("delivered", 0) >= want, 30, 0.1)
        notes = []
        states = relay.states()
        if states.get("delivered", 0) < want or set(states) - {"delivered"}:
            notes.append(f"relay rows: {states} (want {want} delivered)")
        signed = relay.signed_fraction()
        if signed < 1.0:
            notes.append(f"relay rows with a DKIM-Signature: {signed:.1%}")
        return notes

    def stop(self) -> None:
        for relay in self.relays:
            relay.stop()
        self.relays = []
        self.warmed = 0


class PostfixSystem:
    def __init__(self, postfix: PostfixRelay, opendkim: OpenDkim | None) -> None:
        self.postfix, self.opendkim = postfix, opendkim
        self.name = "postfix+opendkim" if opendkim else "postfix"
        self.warmed = 0

    def start(self) -> int:
        if self.opendkim is not None and not self.opendkim.running:
            self.opendkim.start()
        if not self.postfix.running:
            self.postfix.start()
        return self.postfix.port

    def roots(self) -> list[int]:
        pids = [self.postfix.pid] if self.postfix.running else []
        if self.opendkim is not None and self.opendkim.running:
            pids.append(self.opendkim.pid)
        return pids

    def check(self, accepted: int) -> list[str]:
        return []  # the sink's count is the proof; OpenDKIM's signature is checked once

    def stop(self) -> None:
        """Kept running between runs (started once); bench/relay stops it at the end."""

    def shutdown(self) -> None:
        self.postfix.stop()
        if self.opendkim is not None:
            self.opendkim.stop()


def relay_overrides(settings: list[str]) -> dict[str, dict[str, Any]]:
    """`SECTION.KEY=VALUE` (VALUE in TOML/JSON syntax, else a string) -> relay.toml overrides,
    e.g. delivery.max_per_destination=20 or relay.workers=1."""
    out: dict[str, dict[str, Any]] = {}
    for setting in settings:
        name, _, text = setting.partition("=")
        section, _, key = name.strip().partition(".")
        if not key or not _:
            raise ValueError(f"{setting!r}: expected SECTION.KEY=VALUE")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out.setdefault(section, {})[key] = value
    return out


def sessions_by_process(roots: Callable[[], list[int]], port: Port) -> dict[int, int]:
    """pid -> established connections on 127.0.0.1:`port` it holds (SO_REUSEPORT spreads
    kept-open sessions over the workers by a hash, so the split is seldom even)."""
    wanted = set(port) if isinstance(port, list) else {port}
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) in wanted:
            established.add(inode)
    counts: dict[int, int] = {}
    for pid in (p for root in roots() for p in tree(root)):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        held = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in established)
        if held:
            counts[pid] = held
    return counts
