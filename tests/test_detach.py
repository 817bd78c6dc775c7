"""Issue 14 items 2 and 3: `relay serve --detach` / `relay stop`, and `relay sink`.

`--detach` returns only once the listeners are open (a script may send mail on the next line),
or fails with the background process's own error. Real parts: the `relay` program, smtplib
over loopback.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import RelayProcess
from tests.logfmt import parse_key_values
from tests.rig.tools import free_port, port_open, wait_until

RELAY = [sys.executable, "-m", "relay"]


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = RelayProcess(tmp_path / "relay", "127.0.0.1:9", 9).init()
    yield relay
    _kill_from(relay.root / "var" / "relay.pid")


def _kill_from(pid_file: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_serve_detach_returns_ready_and_stop_stops_it(offline: RelayProcess) -> None:
    done = offline.run("serve", "--detach")
    pid = int(re.search(r"running as pid (\d+)", done.stdout).group(1))  # type: ignore[union-attr]
    # Ready means ready: every listener answers now, without waiting.
    for port in (offline.submission_port, offline.tls_port, offline.inbound_port):
        assert port_open(port), port
    pid_file = offline.root / "var" / "relay.pid"
    assert int(pid_file.read_text()) == pid
    log = (offline.root / "var" / "relay.log").read_text()
    assert "relay ready" in log
    again = offline.run("serve", "--detach", check=False)
    assert again.returncode == 1 and f"runs already (pid {pid})" in again.stderr
    stopped = offline.run("stop")
    assert f"relay serve (pid {pid}) stopped" in stopped.stdout
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert not port_open(offline.submission_port) and not pid_file.exists()
    log = (offline.root / "var" / "relay.log").read_text()
    assert 'msg="stopping: finishing work in flight"' in log
    not_running = offline.run("stop", check=False)
    assert not_running.returncode == 1 and "not running" in not_running.stderr


def test_serve_detach_that_cannot_start_says_why(offline: RelayProcess) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", offline.submission_port))
        squatter.listen()
        done = offline.run("serve", "--detach", check=False)
    assert done.returncode == 1
    assert "exited with status 1 before it was ready" in done.stderr
    # the background process's own words: the port and who holds it (this test process)
    assert f"127.0.0.1:{offline.submission_port} is in use by pid {os.getpid()}" in done.stderr
    assert not (offline.root / "var" / "relay.pid").exists()


def test_sink_takes_a_message_into_its_maildir(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "mail"
    done = subprocess.run(
        [*RELAY, "sink", "--maildir", str(maildir), "--listen", f"127.0.0.1:{port}", "--detach"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    pid = int((maildir / "sink.pid").read_text())
    try:
        assert f"as pid {pid}" in done.stdout and port_open(port)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            refused = smtp.sendmail(
                "b-x@bounces.relay.example.net",
                ["max@example.org", "eva@example.org"],
                b"Subject: =?utf-8?q?Zahlungserinnerung_f=C3=BCr?= 1001\r\n\r\nHallo\r\n",
            )
        assert refused == {}
        files = sorted((maildir / "new").iterdir())
        assert len(files) == 2  # one per recipient, as a delivery agent writes them
        first = files[0].read_bytes()
        assert first.startswith(b"Return-Path: <b-x@bounces.relay.example.net>\nDelivered-To: ")
        assert b"\r\n" not in first and first.endswith(b"Hallo\n")
        lines = (maildir / "sink.log").read_text().splitlines()
        printed = [parse_key_values(line) for line in lines if line.startswith("time=")]
        assert sorted(p["to"] for p in printed) == ["eva@example.org", "max@example.org"]
        assert printed[0]["subject"] == "Zahlungserinnerung für 1001"
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not (maildir / "sink.pid").exists(), 30, "the sink to stop")
    assert not port_open(port)


def test_sink_refuses_an_address_that_is_not_ip_and_port(tmp_path: Path) -> None:
    done = subprocess.run(
        [*RELAY, "sink", "--maildir", str(tmp_path), "--listen", "localhost"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--listen" in done.stderr
