"""`relay serve` with several workers: they share the ports and the queue; one that dies is
replaced, and its claimed recipients are delivered by the next one."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from tests.harness import RelayProcess, submit
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
        submit(relay, names.CUSTOMER, f"X-Relay-Order: W-{n}")
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=6)


def test_a_worker_that_cannot_start_stops_the_relay_with_its_error(relay_factory) -> None:  # type: ignore[no-untyped-def]
    """A port taken by another program: `relay serve` must fail and say why, not serve half
    a relay (worker 0 alone runs the unsubscribe pages and DNS re-checks) while it retries."""
    relay: RelayProcess = relay_factory({"relay": {"workers": 2}})
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", relay.http_port))
        squatter.listen()
        with pytest.raises(AssertionError, match="relay serve exited at start-up"):
            relay.start()
        assert relay.proc is not None
        assert relay.proc.wait(timeout=10) == 1
    log = relay.log_text()
    # Found before any worker starts (relay/serve/ports.py), naming the holder: this process.
    assert f"127.0.0.1:{relay.http_port} is in use by pid {os.getpid()} (" in log, log
    assert "restarting" not in log and "ready" not in log


def test_a_missing_certificate_stops_the_relay_naming_the_file_and_the_setting(
    relay_factory,
) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"submission": {"tls_cert": "nowhere/cert.pem"}})
    with pytest.raises(AssertionError, match="relay serve exited at start-up"):
        relay.start()
    assert relay.proc is not None and relay.proc.wait(timeout=10) == 1
    log = relay.log_text()
    assert "cannot load the TLS certificate" in log and "nowhere/cert.pem" in log
    assert "submission.tls_cert" in log and "Traceback" not in log
