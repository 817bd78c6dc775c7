"""Issue 9 item 5: the AUTH throttle cannot be walked around.

Real parts: `relay serve` (two workers: the throttle lives in the database they share), clients
over STARTTLS on loopback, each scenario from its own loopback address so the counts of one do
not touch another; the failure log read by the real fail2ban-regex with
contrib/fail2ban/relay.conf. Parallel sessions run on both store backends: on PostgreSQL each
worker writes through a pool of connections, so the line's check-then-write races there.
"""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess
from tests.rig.tools import require
from tests.smtp_raw import RawSMTP

OTHER = "shop-b"
FILTER = Path(__file__).resolve().parents[1] / "contrib" / "fail2ban" / "relay.conf"


def _relay(relay_factory, delay: str) -> RelayProcess:  # type: ignore[no-untyped-def]
    relay = relay_factory({"submission": {"auth_failure_delay": delay}})
    relay.add_shop(OTHER, domain="shop-b.example.com")
    return relay.start()


def _session(relay: RelayProcess, source: str) -> RawSMTP:
    smtp = RawSMTP(relay.submission_port, source=source)
    smtp.cmd("EHLO client.example.org")
    smtp.starttls()
    smtp.cmd("EHLO client.example.org")
    return smtp


def _auth(smtp: RawSMTP, user: str, password: str) -> tuple[str, float]:
    """(reply, when it came): AUTH PLAIN in a session that has done STARTTLS."""
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    reply = smtp.cmd(f"AUTH PLAIN {token}")
    return reply, time.monotonic()


def _login(relay: RelayProcess, source: str, user: str, password: str) -> tuple[str, float]:
    smtp = _session(relay, source)
    try:
        return _auth(smtp, user, password)
    finally:
        smtp.close()


def _failures(relay: RelayProcess, ip: str) -> dict[str, int]:
    found = relay.query("SELECT shop, count FROM auth_failures WHERE ip = ?", ip)
    return {r["shop"]: r["count"] for r in found}


def test_a_shop_logging_in_between_guesses_does_not_reset_the_delay(relay_factory) -> None:  # type: ignore[no-untyped-def]
    # auth_failure_delay 0.5 s: a check waits 0.5 s after one failure of its address, 1 s
    # after two, 2 s after three (counted from the start of the check before it).
    relay = _relay(relay_factory, "500ms")
    source = "127.0.0.2"
    guesses = []
    for user in (OTHER, SHOP, OTHER):  # shop A itself mistypes once in between
        reply, _ = _login(relay, source, user, "guess")
        guesses.append(reply)
    assert all(r.startswith("535 5.7.8") for r in guesses), guesses
    reply, own_login = _login(relay, source, SHOP, SHOP_PASSWORD)  # shop A, right password
    assert reply.startswith("235"), reply
    reply, next_guess = _login(relay, source, OTHER, "guess")
    assert reply.startswith("535 5.7.8"), reply
    # Shop A's success cleared its own failure, and only that: the two at shop B still stand
    # against the address, so the next guess waited 1 s after shop A's check began (before
    # this fix, A's success wiped the count: no wait at all).
    assert next_guess - own_login >= 0.9, next_guess - own_login
    assert _failures(relay, source) == {OTHER: 3}


def _guess_for(relay: RelayProcess, source: str, until: float, answers: list[str]) -> None:
    """One session guessing shop B's password until `until` (monotonic); each answer that came
    in time is appended. A 454 (refused, unchecked) is followed by a short pause."""
    smtp = _session(relay, source)
    closer = threading.Timer(until - time.monotonic(), smtp.sock.close)
    closer.start()
    try:
        for n in range(1000):
            try:
                reply, at = _auth(smtp, OTHER, f"guess-{n}")
            except OSError:
                return
            if at > until or reply == "<closed>":
                return
            answers.append(reply[:3])
            if reply.startswith("454"):
                time.sleep(0.05)
    finally:
        closer.cancel()
        smtp.sock.close()


@pytest.mark.backends("sqlite", "postgresql")  # PostgreSQL: writes in parallel (a pool)
def test_ten_parallel_sessions_guess_no_faster_than_one(relay_factory) -> None:  # type: ignore[no-untyped-def]
    relay = _relay(relay_factory, "200ms")
    window = 4.0  # with 0.2 s doubling, one session's checks start at 0, .2, .6, 1.4, 3.0 s
    until = time.monotonic() + window
    alone: list[str] = []
    crowd: list[list[str]] = [[] for _ in range(10)]
    threads = [threading.Thread(target=_guess_for, args=(relay, "127.0.0.3", until, alone))]
    threads += [
        threading.Thread(target=_guess_for, args=(relay, "127.0.0.4", until, answers))
        for answers in crowd
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(window + 30)
    checked_alone = alone.count("535")
    checked_crowd = sum(answers.count("535") for answers in crowd)
    assert 3 <= checked_alone <= 6, alone
    # Ten sessions share one line: no more checks than one session had in the same time
    # (one more at most, where a check of one and not the other fell at the window's end).
    assert checked_crowd <= checked_alone + 1, (checked_alone, crowd)
    assert set().union(*crowd) <= {"535", "454"}, crowd


def test_a_shop_logging_in_on_ten_connections_at_once_waits_only_for_the_checks(
    relay_factory,  # type: ignore[no-untyped-def]
) -> None:
    """A running check counts as a failure only until it ends: successes let the next start at
    once (counted as failures to the end, the tenth would wait 1+2+...+256 s)."""
    relay = _relay(relay_factory, "1s")
    sessions = [_session(relay, "127.0.0.6") for _ in range(10)]
    replies: list[tuple[str, float]] = []
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda s=s: replies.append(_auth(s, SHOP, SHOP_PASSWORD)))
        for s in sessions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for smtp in sessions:
        smtp.close()
    assert [r[:3] for r, _ in replies] == ["235"] * 10, replies
    assert max(at for _, at in replies) - started < 5, replies
    assert _failures(relay, "127.0.0.6") == {}


def test_each_failure_is_logged_for_fail2ban_and_never_the_password(relay_factory) -> None:  # type: ignore[no-untyped-def]
    require("fail2ban-regex")
    relay = _relay(relay_factory, "50ms")
    source = "127.0.0.5"
    secret = "Pa55-never-in-the-log"
    tried = [
        OTHER,  # an existing shop
        "no-such-shop",  # an unknown name: counted and logged alike
        'x" client=10.9.9.9 mechanism=PLAIN shop="y',  # a name that pretends to be a line
        'x\nWARNING relay.smtp.auth: AUTH failed: client=10.9.9.8 mechanism=PLAIN shop="z"',
    ]
    for name in tried:
        reply, _ = _login(relay, source, name, secret)
        assert reply.startswith("535 5.7.8"), reply
    smtp = _session(relay, source)  # AUTH LOGIN: the mechanism is named
    assert smtp.cmd("AUTH LOGIN").startswith("334")
    assert smtp.cmd(base64.b64encode(OTHER.encode()).decode()).startswith("334")
    assert smtp.cmd(base64.b64encode(secret.encode()).decode()).startswith("535")
    smtp.close()
    assert _login(relay, source, SHOP, SHOP_PASSWORD)[0].startswith("235")  # not a failure

    log = relay.log.read_text()
    lines = [line for line in log.splitlines() if "event=auth-failed" in line]
    assert len(lines) == 5, lines
    assert secret not in log and SHOP_PASSWORD not in log
    assert all(f"event=auth-failed client={source} mechanism=" in line for line in lines), lines
    assert lines[0].endswith(" mechanism=PLAIN shop=shop-b")
    assert lines[1].endswith(" shop=no-such-shop")
    assert lines[4].endswith(" mechanism=LOGIN shop=shop-b")

    done = subprocess.run(
        ["fail2ban-regex", "--raw", "-o", "ip", str(relay.log), str(FILTER)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Every failure, from the client's own address: no crafted name makes it read another.
    assert done.stdout.split() == [source] * 5, done.stdout


@pytest.mark.parametrize(
    "line",
    [
        'time=2025-01-01T10:00:00.000+00:00 level=info worker=0 msg="relay ready" logger=relay',
        "time=2025-01-01T10:00:00.000+00:00 level=info worker=0 event=accepted id=18F"
        " shop=mein-shop client=10.1.1.1",
        # a failure line's text inside another line's quoted value is no failure line
        'time=2025-01-01T10:00:00.000+00:00 level=warning worker=0 msg="level=warning worker=0'
        ' event=auth-failed client=10.1.1.2 mechanism=PLAIN shop=x" logger=relay',
    ],
)
def test_the_filter_ignores_other_lines(line: str, tmp_path: Path) -> None:
    require("fail2ban-regex")
    log = tmp_path / "serve.log"
    log.write_text(line + "\n")
    done = subprocess.run(
        ["fail2ban-regex", "--raw", "-o", "ip", str(log), str(FILTER)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.split() == [], done.stdout + done.stderr
