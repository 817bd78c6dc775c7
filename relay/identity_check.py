"""Check shops' DNS and store the verdict the submission path reads (never DNS per message).

A domain is verified when the DKIM key in DNS is the shop's key and d= (the shop's domain)
aligns with the From domain: what receivers check for the relay's mail. The shop's SPF
record plays no part (the envelope sender is at the relay's bounce domain); the stored
report says whether the optional custom return path (bounces.<domain>) is usable. A change
between verified and unverified is an event. DNS trouble (timeout, SERVFAIL) never turns a
verified domain unverified: the last conclusive verdict stays, marked stale since the first
failed check.
"""

import time
from dataclasses import dataclass

from config import Config
from dns_checks import DomainReport, Resolver, check_domain, to_json
from relay.dns import relay_setup
from relay.keys import public_key_b64
from relay.model import Shop
from relay.store.shops import mark_verdict_stale, save_verdict, verdicts
from relay.store.sql import Tx


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


def store_verdicts(tx: Tx, shop: Shop, reports: list[DomainReport]) -> list[VerdictChange]:
    """Store each conclusive check; DNS trouble keeps the last verdict, marked stale."""
    known = verdicts(tx, shop.name)
    now = time.time()
    changes = []
    for report in reports:
        domain = report.ascii_domain
        previous = known.get(domain)
        if report.dns_trouble:
            mark_verdict_stale(tx, shop.name, domain, previous is not None, now)
            verified = previous.verified if previous else False
            changes.append(VerdictChange(shop.name, domain, verified, True, False))
            continue
        was = previous.verified if previous else False
        save_verdict(tx, shop.name, domain, report.verified, to_json(report), was, now)
        changes.append(
            VerdictChange(shop.name, domain, report.verified, False, report.verified != was)
        )
    return changes
