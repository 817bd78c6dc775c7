"""When `relay serve` checks a shop's DNS again: never checked, every `dns.recheck_every`,
and soon (5 minutes) after a check that met DNS trouble, so that one failed first check does
not leave a new shop on the fallback identity for hours."""

from __future__ import annotations

import time

from relay.model import Verdict
from relay.recheck import _due

SIX_HOURS = 6 * 3600.0


def _verdict(age: float, stale: bool) -> Verdict:
    now = time.time()
    return Verdict("shop.example.com", False, now - age, now - age if stale else None, {})


def test_checks_are_due_when_never_made_when_old_and_soon_after_dns_trouble() -> None:
    assert _due(None, SIX_HOURS)
    assert not _due(_verdict(3600, stale=False), SIX_HOURS)
    assert _due(_verdict(SIX_HOURS + 1, stale=False), SIX_HOURS)
    assert not _due(_verdict(60, stale=True), SIX_HOURS)
    assert _due(_verdict(301, stale=True), SIX_HOURS)
    assert _due(_verdict(31, stale=True), 30.0)  # a short recheck_every still rules
