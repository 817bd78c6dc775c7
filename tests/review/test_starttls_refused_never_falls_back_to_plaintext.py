"""An MX that announces STARTTLS but cannot do it never gets the mail.

The relay's TLS is opportunistic (RFC 7435, README "opportunistic STARTTLS without
certificate checks"), yet when the server answers STARTTLS with `454 4.7.0 TLS not available
due to local problem` (what Postfix says when its certificate cannot be loaded, a common
misconfiguration) or the handshake fails (an old server that speaks only TLS 1.0), the relay
drops the session and defers, and every retry does the same until `max_age` bounces the
message as `expired`. Postfix (`smtp_tls_security_level = may`) and KumoMTA
(`opportunistic_tls_reconnect_on_failed_handshake`) send such mail in clear instead; with
`require_tls = false` (the default) so should the relay.

The receiving server here is a real Postfix whose TLS certificate file is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import RelayProcess, submit
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

CUSTOMER = "tls-broken@shop-customers.example.com"


def test_mail_to_a_server_whose_starttls_fails_is_delivered_in_clear(
    tmp_path, nsd: NsdServer, make_postfix: Callable[..., PostfixRig]
) -> None:
    broken = make_postfix(
        main_cf={
            "smtpd_tls_cert_file": "/nonexistent.crt",
            "smtpd_tls_key_file": "/nonexistent.key",
        }
    )
    relay = RelayProcess(tmp_path / "relay", nsd.nameserver, broken.port).init()
    relay.add_shop()
    relay.start()
    try:
        submit(relay, CUSTOMER, "X-Relay-Kind: payment-info")
        rows = relay.wait_state(CUSTOMER, {"delivered", "deferred", "bounced"}, timeout=60)
        assert rows[0]["status"] == "delivered", rows[0]["explanation"]
        assert broken.wait_for_messages(CUSTOMER)
    finally:
        relay.stop()
