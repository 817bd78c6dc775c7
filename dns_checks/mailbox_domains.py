"""Public mailbox domains (gmail.com, gmx.de, ...): nobody but the provider can
publish DNS for them, so a shop sending from one can never be verified.

The list lives in data/mailbox_domains.txt; its header says where it comes from
and how to update it.
"""

from __future__ import annotations

import functools
from importlib import resources

DATA_FILE = "mailbox_domains.txt"


def parse_domain_list(text: str) -> tuple[str, ...]:
    """One domain per line; '#' starts a comment; order and first spelling kept."""
    domains: dict[str, None] = {}
    for line in text.splitlines():
        domain = line.split("#", 1)[0].strip().lower().rstrip(".")
        if domain:
            domains.setdefault(domain, None)
    return tuple(domains)


@functools.cache
def mailbox_domains() -> tuple[str, ...]:
    """The curated list, most popular provider first (the order breaks typo ties)."""
    text = resources.files("dns_checks").joinpath("data", DATA_FILE).read_text("utf-8")
    return parse_domain_list(text)


@functools.cache
def _mailbox_domain_set() -> frozenset[str]:
    return frozenset(mailbox_domains())


def is_public_mailbox_domain(ascii_domain: str) -> bool:
    """True for gmail.com, GMX.de., ...: exact match on the A-label, case-insensitive."""
    return ascii_domain.strip().rstrip(".").lower() in _mailbox_domain_set()


def public_mailbox_reason(ascii_domain: str) -> str | None:
    """Why `ascii_domain` can never be a shop's verified sender domain, or None when it can.

    The one place that decides it, for `relay shop add` (which refuses the domain) and
    for the DNS check (which reports it without asking DNS anything).
    """
    if not is_public_mailbox_domain(ascii_domain):
        return None
    domain = ascii_domain.strip().rstrip(".").lower()
    return (
        f"{domain} is a public mailbox domain: only its provider can publish DNS records "
        "there (the DKIM key above all), so the relay can never send as it"
    )
