"""Review finding: one `X-Relay-Template` message stalls a worker for seconds.

`relay/prepare/templated.py::_strict_json` refuses a name given twice in a JSON object with
`names.count(n)` for every name: quadratic in the object's size. The body may be 256 KB
(MAX_JSON), enough for ~36,000 short names: ~10-20 s of CPU on the worker's event loop
(measured here: 10,000 names 1.2 s, 20,000 names 5.5 s, 33,000 names 14 s), during which no
other session of that worker is served. The data is refused afterwards (a built-in kind takes
at most 100 fields), so the shop pays nothing for it. A set of the names seen makes it linear.
"""

from __future__ import annotations

import itertools
import json
import string
from pathlib import Path

from relay.prepare.templated import MAX_JSON
from tests.timed import seconds_to_run


def many_names_json() -> bytes:
    """The most distinct names a body within MAX_JSON can hold (two or three characters each)."""
    letters = string.ascii_letters + string.digits
    names = ("".join(p) for n in (2, 3) for p in itertools.product(letters, repeat=n))
    data: dict[str, int] = {}
    size = len('{"data": {}}')
    for name in names:
        size += len(name) + 5  # "ab":0,
        if size > MAX_JSON - 64:
            break
        data[name] = 0
    body = json.dumps({"data": data}, separators=(",", ":")).encode()
    assert len(body) <= MAX_JSON
    return body


def templated(body: bytes) -> bytes:
    head = (
        "From: info@shop.example.com\r\nTo: max@example.org\r\n"
        "X-Relay-Template: payment-reminder\r\nX-Relay-Order: 1003\r\n"
        "Content-Type: application/json\r\n\r\n"
    )
    return head.encode() + body + b"\r\n"


SUBMIT = """
from pathlib import Path
from relay.prepare.pipeline import Rejection
from tests.shop_submit import shop_database, submit
from tests.review.test_json_body_duplicate_check_is_quadratic import many_names_json, templated

db, settings = shop_database(Path(DIRECTORY))
try:
    submit(db, settings, templated(many_names_json()), ["max@example.org"])
except Rejection as refused:
    assert refused.reply.startswith("550 5.6.0"), refused.reply
else:
    raise AssertionError("a payment reminder with 36,000 data fields was accepted")
"""


def test_a_json_body_with_many_names_is_refused_at_once(tmp_path: Path) -> None:
    took = seconds_to_run(SUBMIT.replace("DIRECTORY", repr(str(tmp_path))), deadline=5.0)
    assert took is not None, "one 256 KB JSON body kept the submission path busy for over 5 s"
