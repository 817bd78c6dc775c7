"""`relay messages` shows an SMTP code no server sent for a deferral the relay found itself.

README ("Retries", and issue 14 item 2): "a reply the relay made up is shown without an SMTP
code, which only a server sends". `relay message show` keeps to that (`no connection: ...`),
but the history's words (`relay.explain.explain`, what `relay messages` prints and what the
console and the API will read) append `(451 4.4.1)` to every deferred row: for a refused
connection or a DNS failure the shop reads a code that looks like the customer's server
answered, when no server was ever reached.
"""

from __future__ import annotations

from tests.harness import RelayProcess, submit

DEAD_MX = "max@dead-mx.example.com"  # its only MX refuses connections


def test_a_deferral_without_any_server_reply_shows_no_smtp_code(relay: RelayProcess) -> None:
    submit(relay, DEAD_MX, "X-Relay-Kind: payment-info")
    row = relay.wait_state(DEAD_MX, {"deferred"})[0]
    words = row["explanation"]
    assert "connection refused" in words  # the relay's own finding, in its own words
    assert "451" not in words and "4.4.1" not in words, words
