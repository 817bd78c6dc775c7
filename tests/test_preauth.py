"""Issue 9 item 1: connections that never authenticate cannot lock the shops out.

Real parts: `relay serve` with its default limits (two workers), attackers as raw asyncio
connections from 40 loopback addresses (127.0.0.0/8 is all loopback on Linux), the shop as
smtplib with STARTTLS and AUTH PLAIN, over loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import smtplib
import ssl
import statistics
import time
from collections import Counter
from typing import Any

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess
from tests.rig import names
from tests.smtp_raw import RawSMTP

FROM = "info@shop.example.com"
ATTACKERS = 1000
ADDRESSES = [f"127.0.0.{n}" for n in range(2, 42)]  # 40 addresses, 25 connections each


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _shop_submits(port: int, order: str) -> float:
    """Connect, STARTTLS, AUTH, send one message; seconds from connect to the 250."""
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=_tls())
        client.login(SHOP, SHOP_PASSWORD)
        message = f"From: {FROM}\r\nSubject: Mahnung\r\nX-Relay-Order: {order}\r\n\r\nBitte.\r\n"
        client.sendmail(FROM, [names.CUSTOMER], message.encode())
    return time.monotonic() - started


async def _attacker(port: int, source: str, stop: asyncio.Event, seen: Counter[str]) -> None:
    """One never-authenticating client: connect, NOOP every second; when refused or closed,
    connect again a second later, for as long as the attack lasts."""
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            greeting = await asyncio.wait_for(reader.readline(), 10)
            seen[greeting[:9].decode(errors="replace")] += 1
            while greeting.startswith(b"220") and not stop.is_set():
                writer.write(b"NOOP\r\n")
                line = await asyncio.wait_for(reader.readline(), 10)
                if not line.startswith(b"250"):
                    seen[line[:9].decode(errors="replace") or "closed"] += 1
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            seen["error"] += 1
        finally:
            if writer is not None:
                writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _flood(port: int, ready: Any, stop: Any, results: Any) -> None:
    """The attack, in a process of its own (the shop's client must not share its CPU time)."""

    async def main() -> Counter[str]:
        done, seen = asyncio.Event(), Counter[str]()
        attackers = [
            asyncio.create_task(_attacker(port, ADDRESSES[i % len(ADDRESSES)], done, seen))
            for i in range(ATTACKERS)
        ]
        await asyncio.sleep(5)  # every attacker has connected at least once: pools are full
        ready.set()
        await asyncio.to_thread(stop.wait, 120)
        done.set()
        await asyncio.gather(*attackers)
        return seen

    results.put(dict(asyncio.run(main())))


def test_a_thousand_idle_connections_do_not_keep_a_shop_out(relay: RelayProcess) -> None:
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    attack = context.Process(target=_flood, args=(relay.submission_port, ready, stop, results))
    attack.start()
    try:
        assert ready.wait(60), "the attack did not start"
        took = []
        for attempt in range(5):
            took.append(_shop_submits(relay.submission_port, f"F-{attempt}"))
            time.sleep(0.5)
    finally:
        stop.set()
        seen = results.get(timeout=60)
        attack.join(30)
    print("shop submissions took", [round(t, 3) for t in took], "attack saw", seen)
    # Every submission got through (the old relay answered 421 4.3.2 to all of them), typically
    # within a second; the median, because the test machine also runs other tests meanwhile
    # (pytest-xdist) and one slow turn of its scheduler is not the relay keeping the shop out.
    assert statistics.median(took) < 1.0 and max(took) < 5.0, (took, seen)
    # The attackers met the per-address cap and were closed to make room, over and over.
    assert seen.get("421 4.7.0", 0) > ATTACKERS, seen
    assert {r["order_ref"] for r in relay.recipients()} >= {f"F-{n}" for n in range(5)}


def test_noop_does_not_extend_the_time_to_authenticate(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory({"relay": {"workers": 1}, "submission": {"auth_timeout": "2s"}}).start()
    smtp = RawSMTP(relay.submission_port)
    started = time.monotonic()
    reply = ""
    while time.monotonic() - started < 10:
        reply = smtp.cmd("NOOP")
        if not reply.startswith("250"):
            break
        time.sleep(0.2)
    lasted = time.monotonic() - started
    assert reply.startswith("421 4.7.0") and "within 2 seconds" in reply, reply
    assert 1.8 < lasted < 4, lasted
    # A shop that logs in within the time keeps its session past it.
    shop = RawSMTP(relay.submission_port)
    shop.cmd("EHLO shop.example.com")
    shop.starttls()
    assert shop.login(SHOP, SHOP_PASSWORD).startswith("235")
    time.sleep(2.5)
    assert shop.cmd("NOOP").startswith("250")
    shop.close()


def test_the_cap_per_address_answers_at_connect(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = relay_factory(
        {"relay": {"workers": 1}, "submission": {"max_unauthenticated_per_address": 3}}
    ).start()
    held = [RawSMTP(relay.submission_port) for _ in range(3)]
    assert all(s.greeting.startswith("220") for s in held)
    fourth = RawSMTP(relay.submission_port)
    assert fourth.greeting.startswith("421 4.7.0 Too many unauthenticated sessions")
    other = RawSMTP(relay.submission_port, source="127.0.0.2")  # another address is welcome
    assert other.greeting.startswith("220")
    for smtp in [*held, other]:
        smtp.close()


class _Session:
    def __init__(self, name: str) -> None:
        self.name, self.closed_with = name, ""

    def close_with(self, reply: str) -> None:
        self.closed_with = reply


def _admit(admission, name: str, address: str, authenticated: bool = False):  # type: ignore[no-untyped-def]
    return admission.admit(address, authenticated, lambda: _Session(name))


def test_a_full_pool_closes_the_busiest_address_oldest_session_never_the_shop() -> None:
    from relay.smtp.admission import Admission, Limits

    admission = Admission(Limits(sessions=10, unauthenticated=5, per_address=5, auth_timeout=30))
    attacker = [_admit(admission, f"a{n}", "127.0.0.2") for n in range(4)]
    shop = _admit(admission, "shop", "127.0.0.1")  # the pool is full now
    for n in range(20):  # the attacker keeps coming back: only its own sessions make room
        assert isinstance(_admit(admission, f"b{n}", "127.0.0.2"), _Session)
        assert shop.closed_with == ""
    assert all(a.closed_with.startswith("421 4.7.0") for a in attacker)
    admission.authenticated(shop)
    for n in range(4):  # trusted or just logged in: the room kept for shops
        assert isinstance(_admit(admission, f"s{n}", "127.0.0.1", authenticated=True), _Session)
    assert admission.active == 9  # four attackers still wait, five shops are in
    full = Admission(Limits(sessions=2, unauthenticated=1, per_address=1, auth_timeout=30))
    assert isinstance(_admit(full, "x", "127.0.0.3", authenticated=True), _Session)
    assert isinstance(_admit(full, "y", "127.0.0.3", authenticated=True), _Session)
    assert _admit(full, "z", "127.0.0.4").startswith("421 4.3.2")  # nobody to make room


def test_per_address_counts_ipv6_per_64() -> None:
    from relay.smtp.admission import Admission, Limits

    admission = Admission(Limits(sessions=10, unauthenticated=9, per_address=2, auth_timeout=30))
    assert isinstance(_admit(admission, "a", "2001:db8::1"), _Session)
    assert isinstance(_admit(admission, "b", "2001:db8::2"), _Session)
    assert _admit(admission, "c", "2001:db8::ffff").startswith("421 4.7.0 Too many")
    assert isinstance(_admit(admission, "d", "2001:db8:0:1::1"), _Session)
