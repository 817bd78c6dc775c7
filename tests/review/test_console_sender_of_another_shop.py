"""Review 3: through the console, one shop takes another shop's public-mailbox sender and name,
and its mail then carries exactly the From and Reply-To of the other shop's (issue 9 item 3
comes back through the console).

Issue 9 item 3 fixed fallback mode by always writing the shop's *configured* sender name. The
console now lets every shop (and each of its console users) configure both itself: settings
(relay/http/console/settings.py -> relay.actions.shops.plan_update) accept any sender name and,
by `check_sender`, any address at a public mailbox domain, including the one another shop has
as its sender. Shop A then sets `moebel.mueller@gmail.com` / "Möbel Müller" (shop C's), sends
`From: moebel.mueller@gmail.com` (now "its" address), and the customer gets
`From: Möbel Müller <fallback>` with `Reply-To: moebel.mueller@gmail.com`: the header shop C's
genuine mail carries. SPEC: "no shop sends under another shop's name". Before the console only
an admin could set these.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from relay.store.sql import row
from tests.console_app import PASSWORD_A, SHOP_A, cli, running_console

SHOP_C, C_SENDER, C_NAME = "shop-c", "moebel.mueller@gmail.com", "Möbel Müller"


def _from_and_reply_to(console, message_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    found = row(console.db.read(), "SELECT body FROM messages WHERE id = ?", (message_id,))
    parsed = email.message_from_bytes(bytes(found["body"]), policy=email.policy.default)
    return str(parsed["From"]), str(parsed["Reply-To"])


def test_a_shop_cannot_take_another_shops_sender_in_the_console(tmp_path: Path) -> None:
    with running_console(tmp_path) as console:
        cli(console.root, "shop", "add", SHOP_C, "--domain", "moebel.example.net",
            "--sender", C_SENDER, "--sender-name", C_NAME, "--language", "de",
            "--password", "password of shop c")  # fmt: skip
        genuine = console.submit(SHOP_C, "kunde@example.org", sender=C_SENDER)

        client = console.client()
        assert client.login(SHOP_A, PASSWORD_A).status == 303
        saved = client.post(
            "/console/settings",
            {"csrf": client.token("/console/settings"), "sender": C_SENDER,
             "sender_name": C_NAME, "language": "de", "kind": "payment-reminder"},
        )  # fmt: skip
        if saved.status == 303:  # taken: what shop A can now send
            forged = console.submit(SHOP_A, "kunde@example.org", sender=C_SENDER)
            assert _from_and_reply_to(console, forged) != _from_and_reply_to(console, genuine), (
                "shop A's mail carries shop C's From and Reply-To: "
                f"{_from_and_reply_to(console, forged)}"
            )
        else:
            assert saved.status == 422
