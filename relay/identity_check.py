"""Check shops' DNS and store the verdict the submission path reads (never DNS per message).

A domain is verified when the DKIM key in DNS is the shop's key and d= (the shop's domain)
aligns with the From domain: what receivers check for the relay's mail. The shop's SPF
record plays no part (the envelope sender is at the relay's bounce domain); the stored
report says whether the optional custom return path (bounces.<domain>) is usable. A change
between verified and unverified is an event. DNS trouble (timeout, SERVFAIL) never turns a
verified domain unverified: the last conclusive verdict stays, marked stale since the first
failed check.
"""

import json
import sqlite3
import time
from dataclasses import dataclass

from config import Config
from dns_checks import DomainReport, Resolver, check_domain, to_json
from relay.dns import relay_setup
from relay.keys import public_key_b64
from relay.store.events import EventKind, add_event
from relay.store.shops import Shop, verdicts


@dataclass(frozen=True)
class VerdictChange:
    shop: str
    domain: str
    verified: bool
    stale: bool
    changed: bool


def check_shop(shop: Shop, config: Config, resolver: Resolver) -> list[DomainReport]:
    """Blocking DNS work: run it in a thread from the event loop."""
    public = public_key_b64(shop.dkim_private_key)
    relay = relay_setup(config)
    return [
        check_domain(domain, shop.dkim_selector, public, relay, resolver) for domain in shop.domains
    ]


def store_verdicts(
    conn: sqlite3.Connection, shop: Shop, reports: list[DomainReport]
) -> list[VerdictChange]:
    known = verdicts(conn, shop.name)
    now = time.time()
    changes = []
    for report in reports:
        domain = report.ascii_domain
        previous = known.get(domain)
        if report.dns_trouble:
            changes.append(_keep_stale(conn, shop.name, domain, previous, now))
            continue
        conn.execute(
            "INSERT INTO dns_verdicts (shop, domain, verified, checked_at, stale_since, report)"
            " VALUES (?,?,?,?,NULL,?) ON CONFLICT (shop, domain) DO UPDATE SET"
            " verified = excluded.verified, checked_at = excluded.checked_at,"
            " stale_since = NULL, report = excluded.report",
            (shop.name, domain, int(report.verified), now, json.dumps(to_json(report))),
        )
        was = previous.verified if previous else False
        if report.verified != was:
            add_event(
                conn,
                EventKind.IDENTITY,
                shop=shop.name,
                at=now,
                domain=domain,
                verified=report.verified,
                was=was,
            )
        changes.append(
            VerdictChange(shop.name, domain, report.verified, False, report.verified != was)
        )
    return changes


def _keep_stale(conn: sqlite3.Connection, shop: str, domain: str, previous, now: float):  # type: ignore[no-untyped-def]
    if previous is None:
        conn.execute(
            "INSERT INTO dns_verdicts (shop, domain, verified, checked_at, stale_since)"
            " VALUES (?,?,0,?,?)",
            (shop, domain, now, now),
        )
        return VerdictChange(shop, domain, False, True, False)
    conn.execute(
        "UPDATE dns_verdicts SET stale_since = coalesce(stale_since, ?)"
        " WHERE shop = ? AND domain = ?",
        (now, shop, domain),
    )
    return VerdictChange(shop, domain, previous.verified, True, False)
