"""Issue 9 item 6: no CLI output carries control characters from a message to the admin's
terminal (`ESC ]0;...BEL` would set its title, CSI sequences move its cursor); JSON output
stays JSON and gives the stored text back exactly.

Real parts: the `relay` CLI as a subprocess on a database holding what an older relay stored
(a direct update: today's relay refuses such an order at DATA, tests/test_malformed.py).
"""

from __future__ import annotations

import json
import sqlite3

from tests.harness import RelayProcess, submit
from tests.rig import names

HOSTILE_ORDER = "A-1\x1b]0;owned\x07\x9b2J\u202eX"
HOSTILE_SUBJECT = "Rechnung\x1b[2J\x1b[H fertig"
UNSAFE = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))]


def _plant(relay: RelayProcess) -> str:
    qid = submit(relay, names.CUSTOMER, "X-Relay-Order: A-1", "Subject: Rechnung")
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    with conn:
        conn.execute(
            "UPDATE messages SET order_ref = ?, subject = ? WHERE id = ?",
            (HOSTILE_ORDER, HOSTILE_SUBJECT, qid),
        )
    conn.close()
    return qid


def _clean(text: str) -> bool:
    return not any(char in text for char in [*UNSAFE, "\u202e"])


def test_messages_and_message_show_escape_control_characters(relay: RelayProcess) -> None:
    qid = _plant(relay)
    table = relay.run("messages").stdout
    assert _clean(table), repr(table)
    assert "A-1\\u001b]0;owned\\u0007\\u009b2J\\u202eX" in table
    shown = relay.run("message", "show", qid).stdout
    assert _clean(shown.replace("\n", "").replace("\t", "")), repr(shown)
    assert "order A-1\\u001b]0;owned" in shown
    listed = relay.run("messages", "--json").stdout
    assert _clean(listed.replace("\n", "")), repr(listed)
    row = json.loads(listed)[0]
    assert (row["order_ref"], row["subject"]) == (HOSTILE_ORDER, HOSTILE_SUBJECT)
    assert json.loads(relay.run("message", "show", qid, "--json").stdout)["order_ref"] == (
        HOSTILE_ORDER
    )
