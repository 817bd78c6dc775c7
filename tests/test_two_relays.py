"""Issue 9 item 11: a second `relay serve` on the same addresses refuses to start and names the
process that holds them; before, SO_REUSEPORT let it join the ports and take half of the
shops' connections (where half of the logins failed with 535).

Real parts: two `relay serve` programs with their own configurations and databases, each with
two workers (SO_REUSEPORT on), a raw SMTP client, and a plain socket holding a port.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess
from tests.smtp_raw import RawSMTP


def _second(relay_factory, first: RelayProcess, name: str, **ports: int) -> RelayProcess:  # type: ignore[no-untyped-def]
    """A relay with its own directory and database, on `first`'s ports unless given."""
    second = relay_factory({"relay": {"workers": 2}}, name=name)
    for key in ("submission_port", "tls_port", "inbound_port", "http_port"):
        setattr(second, key, ports.get(key, getattr(first, key)))
    second.config.write_text(second._toml())
    return second


def _serve(relay: RelayProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", "--config", str(relay.config), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=relay.root,
    )


def test_a_second_relay_on_the_same_ports_refuses_and_names_the_first(relay_factory) -> None:  # type: ignore[no-untyped-def]
    first = relay_factory({"relay": {"workers": 2}}).start()
    assert first.proc is not None
    second = _second(relay_factory, first, "second")
    done = _serve(second)
    assert done.returncode == 1, done.stderr
    assert f"127.0.0.1:{first.submission_port} is in use by another relay" in done.stderr
    assert f"pid {first.proc.pid} (" in done.stderr and str(first.config) in done.stderr
    assert "Traceback" not in done.stderr
    # The first relay alone answers: every login succeeds (with two relays, half failed).
    for _ in range(12):
        smtp = RawSMTP(first.submission_port)
        smtp.cmd("EHLO shop.example.com")
        smtp.starttls()
        assert smtp.login(SHOP, SHOP_PASSWORD).startswith("235")
        smtp.close()


def test_one_shared_address_is_enough_to_refuse(relay_factory) -> None:  # type: ignore[no-untyped-def]
    first = relay_factory({"relay": {"workers": 2}}).start()
    other = relay_factory(name="ports")  # only to hand out fresh ports
    second = _second(
        relay_factory,
        first,
        "second",
        submission_port=other.submission_port,
        tls_port=other.tls_port,
        http_port=other.http_port,
    )  # only the bounce listener's port is shared
    done = _serve(second)
    assert done.returncode == 1
    assert f"127.0.0.1:{first.inbound_port} is in use by another relay" in done.stderr


def test_a_port_held_by_another_program_is_named(relay_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"relay": {"workers": 2}})
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # would let a relay join
    holder.bind(("127.0.0.1", relay.tls_port))
    holder.listen()
    try:
        done = _serve(relay)
    finally:
        holder.close()
    assert done.returncode == 1
    message = f"127.0.0.1:{relay.tls_port} is in use by pid {os.getpid()} "  # this test process
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_the_addresses_are_free_again_after_a_stop(relay_factory, workers: int) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"relay": {"workers": workers}}).start()
    relay.stop()
    relay.start()  # the same ports, the same user: no stale lock stands in the way


def test_a_wildcard_address_overlaps_every_address_on_its_port(tmp_path: Path) -> None:
    """Locks only (nothing binds): 0.0.0.0:P covers 127.0.0.1:P; 127.0.0.2:P does not."""
    import os

    from relay.errors import SetupError
    from relay.serve import ports

    note = f"{os.getpid()} /srv/a/relay.toml\n".encode()
    held = ports._lock(tmp_path, "127.0.0.1:2525", note)
    held += ports._lock(tmp_path, "127.0.0.2:2525", note)
    with pytest.raises(
        SetupError, match=rf"0.0.0.0:2525 is in use by another relay: pid {os.getpid()} "
    ):
        ports._lock(tmp_path, "0.0.0.0:2525", note)
    with pytest.raises(SetupError, match=re.escape("config /srv/a/relay.toml")):
        ports._lock(tmp_path, "127.0.0.1:2525", note)
    for fd in held:
        os.close(fd)
    assert ports._lock(tmp_path, "0.0.0.0:2525", note)
