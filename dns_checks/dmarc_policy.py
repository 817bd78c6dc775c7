"""DMARC policy discovery (RFC 7489 §6.6.3) and record parsing (§6.3, §6.4).

`lookup_dmarc` is the query layer (it takes the resolver); `parse_dmarc_record`
and `dkim_aligned` are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dns_checks.names import organizational_domain
from dns_checks.resolver import DnsNotFound, Resolver
from dns_checks.taglist import TagListError, parse_tag_list

POLICIES = ("none", "quarantine", "reject")

# §6.6.3 step 3: only records that start with "v=DMARC1" count; the value must
# match precisely, the tag may be surrounded by whitespace.
_DMARC_VERSION = re.compile(r"^\s*v\s*=\s*DMARC1\s*(;|$)")


class DmarcSyntaxError(ValueError):
    """A record that receivers discard; the message says why, in words."""


@dataclass(frozen=True)
class DmarcPolicy:
    """p=/sp= are None when absent; `tolerated` lists problems receivers work around."""

    record: str
    policy: str
    subdomain_policy: str | None
    adkim: str  # "r" relaxed (default) or "s" strict, RFC 7489 §3.1.1
    pct: int
    rua: list[str]
    tolerated: list[str]
    aspf: str = "r"  # SPF alignment, "r" or "s" (RFC 7489 §3.1.2)

    def policy_for(self, from_domain: str, record_domain: str) -> str:
        """§6.3: sp= applies to subdomains found through the organizational domain."""
        if from_domain != record_domain and self.subdomain_policy:
            return self.subdomain_policy
        return self.policy


@dataclass(frozen=True)
class DmarcLookup:
    """Where the policy for a From domain was found (§6.6.3).

    record_domain: the domain whose _dmarc record applies (the From domain or its
    organizational domain); records: the DMARC records there (several = none applies).
    """

    from_domain: str
    org_domain: str
    record_domain: str
    records: list[str]

    @property
    def record_name(self) -> str:
        return f"_dmarc.{self.record_domain}"

    @property
    def from_org_domain(self) -> bool:
        return self.record_domain != self.from_domain


def is_dmarc_record(text: str) -> bool:
    return bool(_DMARC_VERSION.match(text))


def _dmarc_records_at(domain: str, resolver: Resolver) -> list[str]:
    try:
        texts = resolver.txt(f"_dmarc.{domain}")
    except DnsNotFound:
        return []
    return [text.strip() for text in texts if is_dmarc_record(text)]


def lookup_dmarc(ascii_domain: str, resolver: Resolver) -> DmarcLookup:
    """The From domain's record, else the organizational domain's. Raises DnsTemporary.

    The organizational domain comes from the public-suffix list, never from
    splitting on dots: 'news.mein-shop.co.uk' -> 'mein-shop.co.uk' (§3.2).
    """
    org_domain = organizational_domain(ascii_domain)
    records = _dmarc_records_at(ascii_domain, resolver)
    if records or org_domain == ascii_domain:
        return DmarcLookup(ascii_domain, org_domain, ascii_domain, records)
    return DmarcLookup(
        ascii_domain, org_domain, org_domain, _dmarc_records_at(org_domain, resolver)
    )


def parse_dmarc_record(text: str) -> DmarcPolicy:
    """'v=DMARC1; p=reject; adkim=s' -> DmarcPolicy. Raises DmarcSyntaxError.

    §6.6.3 step 6: a record without a valid p= (or with an invalid sp=) still
    counts as p=none when it has a rua=; without rua= receivers discard it.
    Tag names and keyword values are case-insensitive (RFC 7489 §6.4 ABNF).
    """
    if not is_dmarc_record(text):
        raise DmarcSyntaxError("it does not start with v=DMARC1")
    try:
        tags = {name.lower(): value for name, value in parse_tag_list(text)}
    except TagListError as exc:
        raise DmarcSyntaxError(f"it is not a valid tag list: {exc}") from None
    rua = [uri.strip() for uri in tags.get("rua", "").split(",") if uri.strip()]
    tolerated: list[str] = []
    policy = tags.get("p", "").lower()
    subdomain_policy = tags["sp"].lower() if "sp" in tags else None
    if policy not in POLICIES or subdomain_policy not in (None, *POLICIES):
        what = "p= is missing or invalid" if policy not in POLICIES else "sp= is invalid"
        if not rua:
            raise DmarcSyntaxError(f"{what} and there is no rua=")
        tolerated.append(f"{what}; receivers treat the record as p=none")
        policy, subdomain_policy = "none", None
    adkim, aspf = (_alignment_mode(tags, name, tolerated) for name in ("adkim", "aspf"))
    pct = _pct(tags, tolerated)
    return DmarcPolicy(text, policy, subdomain_policy, adkim, pct, rua, tolerated, aspf)


def _alignment_mode(tags: dict[str, str], name: str, tolerated: list[str]) -> str:
    """adkim= / aspf=: "r" (relaxed, the default) or "s" (strict), RFC 7489 §6.3."""
    mode = tags.get(name, "r").lower()
    if mode in ("r", "s"):
        return mode
    tolerated.append(f"{name}={tags[name]} is invalid; receivers use relaxed (r)")
    return "r"


def _pct(tags: dict[str, str], tolerated: list[str]) -> int:
    value = tags.get("pct", "100")
    if value.isascii() and value.isdigit() and 0 <= int(value) <= 100:
        return int(value)
    tolerated.append(f"pct={value} is invalid; receivers use 100")
    return 100


def dkim_aligned(dkim_domain: str, from_domain: str, mode: str) -> bool:
    """§3.1.1 (DKIM) and §3.1.2 (SPF) alike: strict = the same domain; relaxed = the
    same organizational domain."""
    if mode == "s":
        return dkim_domain == from_domain
    return organizational_domain(dkim_domain) == organizational_domain(from_domain)
