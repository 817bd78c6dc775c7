"""One recipient whose server hangs up defers every other recipient of the batch untried.

A lane sends up to 20 recipients of one destination over one connection. When the server
closes the connection during one transaction (Postfix answers `421` and disconnects; a
timeout or a crash of the receiving side does the same), `_send_all` returns the rest of the
batch as "pending", `deliver_batch` has no other MX address to try them on, and reports them
all as deferred with the synthesised "connection lost": customers whose mail was never even
offered to the server wait a whole retry interval (5 minutes by default, hours later in the
schedule), and they do so again whenever that recipient shares their batch. Postfix gives every
delivery its own request: a dropped connection costs only the transaction it happened in.
The rest should be tried on a new connection to the same host.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import RelayProcess, submit
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

HANGS_UP = "hangs-up@shop-customers.example.com"
OTHERS = [f"customer-{n}@shop-customers.example.com" for n in range(3)]


def test_other_recipients_are_tried_after_the_server_hangs_up_on_one(
    tmp_path, nsd: NsdServer, make_postfix: Callable[..., PostfixRig]
) -> None:
    mx = make_postfix()
    mx.settings.deferred[HANGS_UP] = "421 4.7.0 closing the connection"
    mx._write_tables()
    mx.restart()
    relay = RelayProcess(tmp_path / "relay", nsd.nameserver, mx.port).init()
    relay.add_shop()
    relay.start("--log-format", "text")
    try:
        qid = submit(relay, ",".join([HANGS_UP, *OTHERS]), "X-Relay-Kind: payment-info")
        for address in OTHERS:
            relay.wait_state(address, {"delivered"}, timeout=60)
        shown = relay.json("message", "show", qid)["recipients"]
        first_try = {r["address"]: r["attempts_log"][0]["text"] for r in shown}
        assert first_try[HANGS_UP].startswith("<hangs-up@")  # Postfix's own 421 words
        for address in OTHERS:
            # Their first attempt must be a real transaction, not the other one's hang-up.
            assert "connection lost" not in first_try[address], (address, first_try[address])
    finally:
        relay.stop()
