"""Review finding: a From (or Sender) that is no valid mailbox passes the ownership check.

`relay/prepare/identity.py::_parse_from` keeps whatever `email.utils.getaddresses` returns as
long as it holds an "@"; for `ceo@bank.example@shop.example.com` that is `@shop.example.com`
(the parser drops what it cannot read), whose domain is the shop's, so `owns_address` says yes.
The header is then sent as written for a verified shop (DKIM-signed d=shop.example.com), and in
fallback mode the shop's Reply-To becomes `<@shop.example.com>`, an address nobody can answer.
Mail clients and DMARC implementations disagree on which "@" of such a header counts (the
"multiple @" ambiguity of Chen et al., "Composition Kills", USENIX Security 2020): the relay,
whose job is that no shop sends under another's name, should not pass a From it cannot read.
Found live: swaks with that From is answered 250 and goes out with `Reply-To: Shop A
<@shop-a.example.com>`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relay.prepare.pipeline import Rejection
from relay.store.shops import save_verdict
from tests.shop_submit import SHOP, shop_database, submit


@pytest.mark.parametrize(
    "header",
    [
        "From: ceo@bank.example@shop.example.com",
        "From: info@shop.example.com\r\nSender: ceo@bank.example@shop.example.com",
    ],
)
def test_a_from_that_is_no_mailbox_is_refused(tmp_path: Path, header: str) -> None:
    db, settings = shop_database(tmp_path)
    with db.transaction() as tx:  # verified: the From would be sent as written
        save_verdict(tx, SHOP, "shop.example.com", True, {}, False, time.time())
    message = f"{header}\r\nTo: max@example.org\r\nSubject: Rechnung\r\n\r\nBitte zahlen.\r\n"
    with pytest.raises(Rejection) as refused:
        sent = submit(db, settings, message.encode(), ["max@example.org"])
        head = bytes(sent.body).split(b"\r\n\r\n", 1)[0].decode()
        pytest.fail(f"accepted and sent as identity {sent.identity.kind}:\n{head}")
    assert refused.value.reply.startswith("550 5."), refused.value.reply
