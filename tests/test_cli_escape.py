"""Issue 9 item 6: no CLI output carries control characters from a message to the admin's
terminal (`ESC ]0;...BEL` would set its title, CSI sequences move its cursor); JSON output
stays JSON and gives the stored text back exactly.

Real parts: the `relay` CLI as a subprocess on a database holding what an older relay stored
(a direct update: today's relay refuses such an order at DATA, tests/test_malformed.py).
"""

from __future__ import annotations

import json
import sqlite3
import time

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


FORGED_LINE = "to boss@example.org: delivered - the mail arrived"


def test_a_newline_in_a_remote_reply_does_not_print_a_line_of_its_own(
    relay: RelayProcess,
) -> None:
    """A remote server chooses its reply text; `relay status` and `relay message show` once
    printed its newlines as they were, so the reply could add a line that looks like the
    relay's own. The message's own headers and text still print as lines."""
    qid = submit(relay, names.CUSTOMER, "X-Relay-Order: A-2", "Subject: Rechnung")
    reply = f"user unknown\n{FORGED_LINE}"
    conn = sqlite3.connect(relay.root / "var" / "relay.db")
    with conn:
        rows = conn.execute("SELECT id FROM recipients WHERE message = ?", (qid,)).fetchall()
        conn.execute(
            "UPDATE recipients SET state = 'bounced', last_status = '5.1.1', last_text = ?,"
            " updated_at = ? WHERE message = ?",
            (reply, time.time(), qid),
        )
        conn.execute(
            "INSERT INTO attempts (recipient, at, mx_host, code, status, text)"
            " VALUES (?, ?, 'mx.example.org', 550, '5.1.1', ?)",
            (rows[0][0], time.time(), reply),
        )
    conn.close()
    for shown in (relay.run("message", "show", qid).stdout, relay.run("status").stdout):
        lines = [line.strip() for line in shown.splitlines()]
        assert FORGED_LINE not in lines, shown
        assert "user unknown\\u000a" + FORGED_LINE in shown, shown
    shown = relay.run("message", "show", qid).stdout
    assert any(line.startswith("Subject: Rechnung") for line in shown.splitlines()), shown
