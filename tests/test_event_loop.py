"""`relay.event_loop`: the workers run on uvloop unless the switch says "asyncio", and the relay
does its whole job on either (STARTTLS and AUTH on submission, implicit TLS, delivery)."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from pathlib import Path

import pytest
import uvloop

from relay.errors import SetupError
from relay.serve.loop import run
from tests.harness import RelayProcess, submit
from tests.rig import names
from tests.rig.tools import wait_until
from tests.smtp_raw import RawSMTP


def _serving_processes(relay: RelayProcess) -> list[int]:
    """The workers (children with --worker), or `relay serve` itself when it has none."""
    assert relay.proc is not None
    parent, found = relay.proc.pid, []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == parent and b"--worker" in cmdline and stat[0] != "Z":
            found.append(int(entry.name))
    return sorted(found) or [parent]


def _uvloop_loaded(pid: int) -> bool:
    """Whether the process has uvloop's compiled loop mapped (it is imported only to run it)."""
    return "uvloop/loop." in Path(f"/proc/{pid}/maps").read_text()


def test_the_workers_run_on_uvloop_by_default_and_relay_mail(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 2}}).start()
    wait_until(lambda: len(_serving_processes(relay)) == 2, 20, "two workers")
    assert all(_uvloop_loaded(pid) for pid in _serving_processes(relay))
    assert "event loop uvloop" in relay.log_text()
    for n in range(4):  # STARTTLS and implicit TLS, spread over both workers
        submit(relay, names.CUSTOMER, f"X-Relay-Order: U-{n}", tls=("starttls", "implicit")[n % 2])
    relay.wait_state(names.CUSTOMER, {"delivered"}, count=4)


def test_event_loop_asyncio_switches_uvloop_off(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay: RelayProcess = relay_factory({"relay": {"workers": 1, "event_loop": "asyncio"}}).start()
    assert not any(_uvloop_loaded(pid) for pid in _serving_processes(relay))
    assert "event loop asyncio" in relay.log_text()
    submit(relay, names.CUSTOMER, "X-Relay-Order: A-1")
    relay.wait_state(names.CUSTOMER, {"delivered"})


def test_run_uses_the_named_loop() -> None:
    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    assert run(loop_type(), "uvloop") is uvloop.Loop
    assert not issubclass(run(loop_type(), "asyncio"), uvloop.Loop)


def test_without_uvloop_the_error_names_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError

    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(SetupError, match=re.escape('set relay.event_loop = "asyncio"')):
        run(never(), "uvloop")


def test_connections_closed_at_once_give_their_place_back(relay_factory) -> None:  # type: ignore[no-untyped-def]
    """Port probes (connect, close before the greeting) on uvloop used to keep their sessions
    open for good: after max_unauthenticated_per_address probes, the address got only 421."""
    relay: RelayProcess = relay_factory(
        {"relay": {"workers": 1}, "submission": {"max_unauthenticated_per_address": 3}}
    ).start()
    for _ in range(10):
        socket.create_connection(("127.0.0.1", relay.submission_port), timeout=10).close()

    def greeted() -> bool:
        sessions = [RawSMTP(relay.submission_port) for _ in range(3)]
        for session in sessions:
            session.close()
        return all(s.greeting.startswith("220") for s in sessions)

    wait_until(greeted, 10, "the probes' places to be given back")
