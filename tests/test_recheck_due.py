"""When `relay serve` checks a shop's DNS again: never checked, every `dns.recheck_every`,
and soon (5 minutes) after a check that met DNS trouble, so that one failed first check does
not leave a new shop on the fallback identity for hours."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from relay import recheck
from relay.model import Verdict
from relay.recheck import Rechecker, _due
from relay.store.db import open_database
from relay.store.dns_results import relay_dns, save_relay_dns

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


def test_the_relays_own_check_is_due_like_a_shops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored by the first pass; not again before `recheck_every`, but again 5 minutes after
    DNS trouble (relay.recheck.Rechecker.recheck_relay, with the DNS work replaced)."""
    db = open_database("sqlite:///relay.db", tmp_path)
    checks: list[bool] = []

    def fake_check(config: object, resolver: object) -> dict:
        checks.append(True)
        return {"verified": False, "dns_trouble": len(checks) == 1, "results": []}

    async def write(job):  # type: ignore[no-untyped-def]
        with db.transaction() as tx:
            return job(tx)

    rechecker = Rechecker(None, db.read, write)  # type: ignore[arg-type]
    monkeypatch.setattr(recheck, "check_relay_dns", fake_check)
    try:
        asyncio.run(rechecker.recheck_relay(None, SIX_HOURS))  # type: ignore[arg-type]
        asyncio.run(rechecker.recheck_relay(None, SIX_HOURS))  # type: ignore[arg-type]
        assert len(checks) == 1  # just checked
        with db.transaction() as tx:  # ... 301 s ago, with DNS trouble: due again
            save_relay_dns(tx, relay_dns(db.read()).report, time.time() - 301)
        asyncio.run(rechecker.recheck_relay(None, SIX_HOURS))  # type: ignore[arg-type]
        assert len(checks) == 2
        assert relay_dns(db.read()).report["dns_trouble"] is False
        with db.transaction() as tx:  # no trouble: only after recheck_every
            save_relay_dns(tx, relay_dns(db.read()).report, time.time() - 301)
        asyncio.run(rechecker.recheck_relay(None, SIX_HOURS))  # type: ignore[arg-type]
        assert len(checks) == 2
    finally:
        db.close()
