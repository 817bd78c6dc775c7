"""Golden files: a report and the JSON the parser must produce for it (chasquid habit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bounces import parse_report, report_to_dict

DATA = Path(__file__).parent / "data" / "bounces"
CASES = sorted(DATA.glob("*.eml"))


@pytest.mark.parametrize("eml", CASES, ids=[p.stem for p in CASES])
def test_golden(eml: Path) -> None:
    expected = json.loads(eml.with_suffix(".json").read_text())
    expected.pop("why")
    assert report_to_dict(parse_report(eml.read_bytes())) == expected


def test_line_endings_do_not_matter() -> None:
    lf = (DATA / "lhost-exim-01.eml").read_bytes().replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    bare_cr = lf.replace(b"\n", b"\r")
    expected = report_to_dict(parse_report(lf))
    assert report_to_dict(parse_report(crlf)) == expected
    assert report_to_dict(parse_report(bare_cr)) == expected


def test_relay_token_and_original_message_id() -> None:
    report = parse_report((DATA / "relay-token-dsn.eml").read_bytes())
    assert report.token == "Zm9vYmFyLXRva2VuXzEyMw"
    assert report.message_id == "<order-1234.1709632800@relay.example.net>"
    assert ("Subject", "Your order 1234") in report.returned_headers
    [rcpt] = report.recipients
    assert (rcpt.address, rcpt.reason, rcpt.code, rcpt.dead_address) == (
        "max@example.org",
        "userunknown",
        550,
        True,
    )
