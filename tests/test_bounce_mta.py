"""Reports made by real MTAs (tests/data/bounces-mta, made by its make.py): golden readings.

Each <MTA>/<NN>-<scenario>.eml is what Postfix, Exim, OpenSMTPD, Sendmail or Courier sent
the relay's bounce address in one lab scenario; the .json next to it says what a correct
reader must make of it (kind, recipient, status, reason, reason group) and why it exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bounces import parse_report, report_to_dict

DATA = Path(__file__).parent / "data" / "bounces-mta"
CASES = sorted(DATA.glob("*/*.eml"))
MTAS = ("postfix", "exim", "opensmtpd", "sendmail", "courier")
# Reason groups of ../shared/bounces/reasons.py for the reasons the lab produces.
GROUPS = {
    "userunknown": "user_unknown",
    "mailboxfull": "mailbox_full",
    "mesgtoobig": "too_large",
    "hostunknown": "host_unknown",
    "expired": "expired",
    "networkerror": "network",
    "delivered": "delivered",
}


def _expected(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text())


@pytest.mark.parametrize("eml", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_real_mta_report(eml: Path) -> None:
    want = _expected(eml)
    assert want["why"].strip()
    report = parse_report(eml.read_bytes(), strict=True)
    first = report.recipients[0]
    got = {
        "kind": report.kind,
        "recipient": first.address,
        "status": first.status,
        "reason": str(first.reason),
        "reason_group": GROUPS.get(first.reason, f"other:{first.reason}"),
    }
    assert got == {k: want[k] for k in got}, want["why"]


@pytest.mark.parametrize("mta", MTAS)
def test_every_mta_has_its_reports(mta: str) -> None:
    """The lab kept a report of every scenario each MTA can produce (see the README)."""
    stems = {p.stem.split("-", 1)[1] for p in (DATA / mta).glob("*.eml")}
    expected = {"userunknown", "mailboxfull", "mesgtoobig", "hostunknown", "delayed"}
    expected |= {"expired", "relayed"}
    if mta != "opensmtpd":  # OpenSMTPD 6.8 refuses UTF-8 addresses at RCPT (501 5.1.3)
        expected.add("smtputf8")
    assert stems == expected


def test_utf8_recipient_is_whole_everywhere() -> None:
    """RFC 6533: the internationalised address comes out whole, in the diagnostic too."""
    for eml in sorted(DATA.glob("*/08-smtputf8.eml")):
        data = report_to_dict(parse_report(eml.read_bytes()))
        [first, *_] = data["recipients"]
        assert first["address"] == "jörg.müller@example.org", eml
        assert "\ufffd" not in first["diagnostic"] and "\\303" not in first["diagnostic"], eml


def test_give_up_bounces_and_delay_notice_does_not() -> None:
    """A message the MTA gave up on is a failed bounce (the relay marks it bounced);
    the delay notice before it is a delay, with no failure."""
    for mta in MTAS:
        delayed = parse_report((DATA / mta / "05-delayed.eml").read_bytes())
        expired = parse_report((DATA / mta / "06-expired.eml").read_bytes())
        assert (delayed.kind, delayed.recipients[0].action) == ("delay", "delayed"), mta
        assert (expired.kind, expired.recipients[0].action) == ("bounce", "failed"), mta
        assert expired.recipients[0].reason == "expired", mta
