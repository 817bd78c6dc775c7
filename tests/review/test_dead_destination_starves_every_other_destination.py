"""A backlog of mail to one slow or dead destination holds up mail to every other domain.

The scheduler claims due rows oldest first, up to what all its connections can carry
(`max_connections * BATCH`), and keeps them in the destination's lane until one of that
destination's `max_per_destination` connections is free. When the rows that are due belong
to a destination whose MX accepts TCP but never greets (or times out in any other way),
every claimed row waits in that lane, `_capacity()` stays 0, and nothing else is claimed:
a payment confirmation to a healthy domain, submitted after the backlog, waits until every
older row of the dead destination has had its connection attempt (rows / (per-destination
connections * 20) * connect_timeout: with the defaults, 10,000 due rows of one dead MX hold
everything else back for about 25 minutes). The per-destination cap limits connections, not
the share of the queue one destination may hold; Postfix's queue manager serves destinations
round-robin and, once a destination fails to connect, defers the rest of its mail without
trying (a "dead" site), so other destinations never wait for it.

Here: the MX of slow.example.com accepts connections on a loopback address and never says a
word; 180 of its rows are due before one message to the healthy Postfix domain.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.harness import submit
from tests.rig.nsd import NsdServer, base_zones
from tests.rig.postfix import PostfixRig

SILENT_ADDRESS = "127.0.0.3"
HEALTHY = "payment-confirmation@shop-customers.example.com"
CONNECT_TIMEOUT = 4.0


@contextlib.contextmanager
def silent_mx(port: int) -> Iterator[None]:
    """Completes the TCP handshake (kernel backlog), never sends a greeting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((SILENT_ADDRESS, port))
        listener.listen(1024)
        yield


@pytest.fixture
def dns_with_a_silent_mx(make_nsd: Callable[..., NsdServer]) -> NsdServer:
    zones = base_zones()
    zones["example.com"] += "slow IN MX 10 mx-silent.example.net.\n"
    zones["example.net"] += f"mx-silent IN A {SILENT_ADDRESS}\n"
    return make_nsd(zones, base=False)


def test_mail_to_a_healthy_domain_does_not_wait_for_a_dead_destinations_backlog(
    tmp_path, dns_with_a_silent_mx: NsdServer, postfix: PostfixRig
) -> None:
    from tests.harness import RelayProcess

    postfix.reset()
    relay = RelayProcess(
        tmp_path / "relay",
        dns_with_a_silent_mx.nameserver,
        postfix.port,
        extra={
            "relay": {"workers": 1},
            "delivery": {
                "max_connections": 2,
                "max_per_destination": 1,
                "connect_timeout": f"{CONNECT_TIMEOUT:g}s",
            },
        },
    ).init()
    relay.add_shop()
    with silent_mx(postfix.port):
        relay.start()
        try:
            for batch in range(3):
                slow = [f"customer-{batch}-{n}@slow.example.com" for n in range(60)]
                submit(
                    relay,
                    ",".join(slow),
                    "X-Relay-Kind: payment-info",
                    "To: customers@slow.example.com",
                )
            submitted = time.monotonic()
            submit(relay, HEALTHY, "X-Relay-Kind: payment-received")
            postfix.wait_for_messages(HEALTHY, timeout=120)
            waited = time.monotonic() - submitted
            # One connection attempt of the dead MX is the most it should cost others.
            assert waited < 2 * CONNECT_TIMEOUT, f"healthy mail waited {waited:.1f} s"
        finally:
            relay.stop()
