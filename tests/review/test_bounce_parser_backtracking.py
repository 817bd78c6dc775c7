"""Review finding: the bounce parser has regular expressions that backtrack catastrophically,
and anyone can feed it (port 25, RCPT to the published complaint address: no token needed).

`bounces/detectors/exchange.py` matches every line of an "Undeliverable" notice against
`^.+@.+<mailto:(.+@.+)>\\s*$` (four greedy `.+`: O(n^4) on a line of "@<mailto:" repeats);
`bounces/detectors/postfix.py` searches `^\\s*(?:The |This is the )...` with re.M, quadratic in a
run of blank lines. The parse runs in a thread (`asyncio.to_thread`), but `re` holds the GIL
for a whole match, so every listener of the worker stops: submission, bounces, HTTP, delivery.
The raw report is stored first and `recover()` re-parses it at start-up before the listeners
open, so a restart does not help either.
"""

from __future__ import annotations

import pytest

from tests.review._timed import seconds_to_run

EXCHANGE = """
from bounces import parse_report
lines = "\\r\\n".join(["@<mailto:" * 200] * 4)  # 4 lines of 1.8 KB: a 7 KB message
raw = ("From: postmaster@outlook.example\\r\\nTo: fbl@relay.example.net\\r\\n"
       "Subject: Undeliverable: your order\\r\\nX-MS-Exchange-Message-Is-Ndr: yes\\r\\n"
       "Content-Type: text/plain\\r\\n\\r\\n"
       "Delivery has failed to these recipients or groups:\\r\\n\\r\\n" + lines + "\\r\\n")
parse_report(raw.encode())
"""

POSTFIX = """
from bounces import parse_report
raw = ("From: MAILER-DAEMON@mx.example.net\\r\\nTo: fbl@relay.example.net\\r\\n"
       "Subject: Undelivered Mail Returned to Sender\\r\\nContent-Type: text/plain\\r\\n\\r\\n"
       + "\\r\\n" * 100_000 + "x\\r\\n")  # 200 KB of empty lines
parse_report(raw.encode())
"""


@pytest.mark.parametrize("code", [EXCHANGE, POSTFIX], ids=["exchange-mailto", "postfix-starts"])
def test_a_small_hostile_report_is_parsed_in_well_under_a_second(code: str) -> None:
    # A linear parser reads these in milliseconds; today the first takes ~20 s (each line
    # of 1.8 KB ~5 s, doubling the line length costs ~20x), the second ~10 s (10 MB of
    # empty lines, the listener's size limit: hours).
    took = seconds_to_run(code, deadline=5.0)
    assert took is not None, "parse_report was still running after 5 s"
