"""Issue 9 item 7: the bounce listener has no accounts, so it offers no AUTH, before or after
STARTTLS, and answers an AUTH attempt with 502 instead of a 535 that invites guessing.

Real parts: `relay serve` and a raw SMTP client with STARTTLS over loopback.
"""

from __future__ import annotations

import base64

from tests.harness import SHOP, SHOP_PASSWORD, RelayProcess
from tests.smtp_raw import RawSMTP

PLAIN = base64.b64encode(f"\0{SHOP}\0{SHOP_PASSWORD}".encode()).decode()


def test_no_auth_before_or_after_starttls(relay: RelayProcess) -> None:
    smtp = RawSMTP(relay.inbound_port)
    before = smtp.cmd("EHLO mx.example.org")
    assert "STARTTLS" in before and "AUTH" not in before, before
    assert smtp.cmd(f"AUTH PLAIN {PLAIN}").startswith("502 5.5.1")
    assert smtp.starttls().startswith("220")
    after = smtp.cmd("EHLO mx.example.org")
    assert after.startswith("250") and "AUTH" not in after, after
    assert smtp.cmd(f"AUTH PLAIN {PLAIN}").startswith("502 5.5.1")
    assert smtp.cmd("AUTH LOGIN").startswith("502 5.5.1")
    # Still a working bounce listener after all that: it takes mail for the complaint address.
    assert smtp.cmd("MAIL FROM:<>").startswith("250")
    assert smtp.cmd("RCPT TO:<fbl@relay.example.net>").startswith("250")
    smtp.close()


def test_submission_still_offers_auth_after_starttls(relay: RelayProcess) -> None:
    smtp = RawSMTP(relay.submission_port)
    smtp.cmd("EHLO shop.example.com")
    smtp.starttls()
    assert "AUTH" in smtp.cmd("EHLO shop.example.com")
    assert smtp.cmd(f"AUTH PLAIN {PLAIN}").startswith("235")
    smtp.close()
