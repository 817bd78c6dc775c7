"""After STARTTLS the relay sends MAIL FROM without a new EHLO: a server that wants HELO/EHLO
first bounces every message, permanently.

RFC 3207 4.2: after the TLS handshake "the server MUST discard any knowledge obtained from the
client, such as the argument to the EHLO command", and the client "SHOULD send an EHLO command
as the first command after a successful TLS negotiation". aiosmtplib's `starttls()` resets its
own knowledge of the server and leaves the new EHLO to its high-level commands
(`_ehlo_or_helo_if_needed` in `mail()`, `login()`, `sendmail()`); the relay sends MAIL and RCPT
through `execute_command` (relay/delivery/client.py `_command`), which does not, so MAIL FROM is
the first command of the encrypted session. Postfix resets the HELO state at STARTTLS; with
`smtpd_helo_required = yes` (a common anti-spam setting) it answers `503 5.5.1 Error: send
HELO/EHLO first`, and a 5xx to MAIL is a permanent bounce in `decide()`: every message to such
a domain bounces, and the shop is told the customer's server refused it.

A real Postfix with `smtpd_helo_required = yes` and STARTTLS, as an MX.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import RelayProcess, submit
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

CUSTOMER = "max@shop-customers.example.com"


def test_mail_to_a_server_that_requires_helo_is_delivered_over_tls(
    tmp_path, nsd: NsdServer, make_postfix: Callable[..., PostfixRig]
) -> None:
    strict = make_postfix(main_cf={"smtpd_helo_required": "yes"})
    relay = RelayProcess(tmp_path / "relay", nsd.nameserver, strict.port).init()
    relay.add_shop()
    relay.start()
    try:
        qid = submit(relay, CUSTOMER, "X-Relay-Kind: payment-info")
        row = relay.wait_state(CUSTOMER, {"delivered", "deferred", "bounced"})[0]
        assert row["status"] == "delivered", row["explanation"]
        attempt = relay.json("message", "show", qid)["recipients"][0]["attempts_log"][0]
        assert attempt["tls"] == 1  # and it went over the encrypted session
    finally:
        relay.stop()
