"""`relay serve` with several workers: they share the ports and the queue; one that dies is
replaced, and its claimed recipients are delivered by the next one."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.harness import RelayProcess, queue_id, swaks
from tests.rig import names
from tests.rig.tools import wait_until


def _workers(relay: RelayProcess) -> list[int]:
    assert relay.proc is not None
    parent = relay.proc.pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and b"--worker" in cmdline and stat.rpartition(")")[2].split()[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def test_two_workers_share_the_ports_and_one_that_dies_is_replaced(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 2}}).start()
    wait_until(lambda: len(_workers(relay)) == 2, 20, "two workers")
    first = _workers(relay)
    os.kill(first[0], signal.SIGKILL)
    wait_until(
        lambda: len(_workers(relay)) == 2 and _workers(relay) != first,
        20,
        "the supervisor to replace the killed worker",
    )
    for n in range(6):  # connections spread over both workers
        done = swaks(
            relay.submission_port,
            "--from",
            "info@shop.example.com",
            "--to",
            names.CUSTOMER,
            "--header-From",
            "info@shop.example.com",
            "--header",
            f"X-Relay-Order: W-{n}",
        )
        queue_id(done.stdout)
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=6)
