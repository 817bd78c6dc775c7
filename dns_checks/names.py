"""Domain names: IDNA conversion and the organizational domain.

Both are pure; the public-suffix list is the one bundled with `publicsuffixlist`
(update the package to update the list).
"""

from __future__ import annotations

import functools

import idna
from publicsuffixlist import PublicSuffixList


class InvalidDomain(ValueError):
    """The text is not a domain name that could carry mail DNS records."""


@functools.lru_cache(maxsize=4096)
def to_ascii_domain(domain: str) -> str:
    """'Müller-Shop.de.' -> 'xn--mller-shop-9db.de'.

    IDNA 2008 with UTS #46 mapping (case folding, full-width dots), which is what
    browsers and mail clients do with what users type. Raises InvalidDomain.
    """
    text = domain.strip().rstrip(".")
    if not text or "." not in text:
        raise InvalidDomain(f"{domain!r} is not a domain name (it needs at least one dot)")
    try:
        ascii_domain = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidDomain(f"{domain!r} is not a valid domain name: {exc}") from None
    return ascii_domain.lower()


def to_unicode_domain(ascii_domain: str) -> str:
    """The U-label form for messages; falls back to the input when it cannot be decoded."""
    try:
        return idna.decode(ascii_domain)
    except idna.IDNAError:
        return ascii_domain


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    # Parsing the list takes tens of milliseconds: do it once, on first use.
    # Lookups afterwards only read it, so sharing it between threads is safe.
    return PublicSuffixList()


def organizational_domain(ascii_domain: str) -> str:
    """RFC 7489 §3.2: the public suffix plus one label ('news.mein-shop.co.uk' ->
    'mein-shop.co.uk'). A name that is itself a public suffix is its own org domain."""
    return _public_suffix_list().privatesuffix(ascii_domain) or ascii_domain


def public_suffix(ascii_domain: str) -> str:
    """'mein-shop.co.uk' -> 'co.uk'; unknown TLDs count as one-label suffixes."""
    return _public_suffix_list().publicsuffix(ascii_domain) or ascii_domain


def is_known_public_suffix(suffix: str) -> bool:
    """True for suffixes in the list ('de', 'co.uk', 'ne'), False for 'dee' or 'con'."""
    return _public_suffix_list().publicsuffix("x." + suffix, accept_unknown=False) == suffix
