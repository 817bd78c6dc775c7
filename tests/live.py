"""A relay of its own for the tests that attack a running `relay serve`: one worker, no
nsd or Postfix needed (nothing in these tests is delivered), and a probe that asks whether the
listeners still answer."""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import time
from pathlib import Path

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess

UNREACHABLE_DNS = "127.0.0.1:9"  # the start-up DNS re-check fails at once; nothing is sent


def one_worker_relay(root: Path) -> RelayProcess:
    relay = RelayProcess(root, UNREACHABLE_DNS, mx_port=9, extra={"relay": {"workers": 1}})
    relay.init()
    relay.add_shop()
    return relay


def greeting_time(port: int, timeout: float = 3.0) -> float | None:
    """Seconds from connect to the 220 greeting, or None when none came within `timeout`."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            line = sock.recv(512)
    except OSError:
        return None
    return time.monotonic() - started if line.startswith(b"220") else None


def greetings_while(port: int, seconds: float) -> list[float | None]:
    """Greeting times of new connections, one after another, for `seconds`."""
    found: list[float | None] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found.append(greeting_time(port))
        time.sleep(0.3)
    return found


def send_report(relay: RelayProcess, raw: bytes, to: str = "fbl@relay.example.net") -> str:
    """Plain SMTP to the bounce listener, as any mail server on the internet may; the reply."""
    with smtplib.SMTP("127.0.0.1", relay.inbound_port, timeout=60) as client:
        client.ehlo("mx.example.org")
        client.mail("postmaster@outlook.example")
        code, _ = client.rcpt(to)
        assert code == 250, code
        code, text = client.data(raw)
    return f"{code} {text.decode()}"


def shop_sends(relay: RelayProcess, raw: bytes, to: list[str], timeout: float = 120) -> str:
    """STARTTLS + AUTH as the shop's software does; the reply to the data."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", relay.submission_port, timeout=timeout) as client:
        client.starttls(context=context)
        client.login(SHOP, SHOP_PASSWORD)
        client.mail("info@shop.example.com")
        for address in to:
            client.rcpt(address)
        code, text = client.data(raw)
    return f"{code} {text.decode()}"


def stop_quickly(relay: RelayProcess) -> None:
    """A frozen worker does not finish its work in flight: don't wait for it."""
    with contextlib.suppress(Exception):
        relay.stop(timeout=5)
