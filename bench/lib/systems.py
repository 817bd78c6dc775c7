"""The systems bench/relay compares, each behind the same four steps.

`start()` gives the submission port, `roots()` the pids whose process trees are the system
(its CPU and memory), `check(run)` what must be true after a run, `stop()`. The relay is a
fresh instance per run (empty database); the two Postfix instances run for the whole
benchmark and are only started once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.lib.opendkim import OpenDkim
from bench.lib.postfix import PostfixRelay
from bench.lib.procs import Cleanup, tree, wait_for
from bench.lib.relay import Relay
from bench.lib.sink import Sink
from tests.rig.nsd import NsdServer

LABELS = {
    "relay": "relay",
    "postfix": "Postfix (no DKIM)",
    "postfix+opendkim": "Postfix + OpenDKIM",
}


class RelaySystem:
    name = "relay"

    def __init__(
        self,
        work: Path,
        nsd: NsdServer,
        sink: Sink,
        cleanup: Cleanup,
        *,
        trusted: bool,
        signing_workers: int | None = None,
        relay_loop: str = "asyncio",
    ) -> None:
        self.work, self.nsd, self.sink, self.cleanup = work, nsd, sink, cleanup
        self.trusted = trusted  # smtp-source: submit by IP; else STARTTLS + AUTH
        self.signing_workers = signing_workers
        self.relay_loop = relay_loop
        self.relay: Relay | None = None
        self.runs = 0
        self.warmed = 0

    def start(self) -> int:
        self.runs += 1
        submission: dict[str, Any] = {} if self.trusted else {"trusted_clients": []}
        relay = Relay(
            self.work / f"relay-{self.runs}",
            delivery={
                "nameservers": [self.nsd.nameserver],
                "smtp_port": self.sink.port,
                "retry_schedule": "5s",
                "max_age": "1h",
                "connect_timeout": "5s",
            },
            signing_workers=self.signing_workers,
            submission=submission,
            env=uvloop_env(self.work) if self.relay_loop == "uvloop" else {},
        ).init()
        self.cleanup.add(relay.stop)
        relay.start()
        self.relay = relay
        print(f"  relay serve pid {relay.pid}, submission 127.0.0.1:{relay.port}", flush=True)
        return relay.port

    def roots(self) -> list[int]:
        return [self.relay.pid] if self.relay is not None and self.relay.proc else []

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
        if self.relay is not None:
            self.relay.stop()
        self.relay = None
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


def uvloop_env(work: Path) -> dict[str, str]:
    """PYTHONPATH with a sitecustomize that installs uvloop's event loop policy in every
    Python process of `relay serve` (supervisor, workers): the relay's code stays as it is."""
    site = work / "uvloop-site"
    site.mkdir(exist_ok=True)
    site.joinpath("sitecustomize.py").write_text("import uvloop\n\nuvloop.install()\n")
    repo = Path(__file__).resolve().parents[2]
    return {"PYTHONPATH": f"{site}{os.pathsep}{repo}"}


def sessions_by_process(roots: Callable[[], list[int]], port: int) -> dict[int, int]:
    """pid -> established connections on 127.0.0.1:`port` it holds (SO_REUSEPORT spreads
    kept-open sessions over the workers by a hash, so the split is seldom even)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port:
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
