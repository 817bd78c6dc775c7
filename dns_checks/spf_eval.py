"""SPF evaluation (RFC 7208 §4) by pyspf, with its DNS lookups sent to our Resolver.

pyspf does the hard parts right: include, redirect, a, mx, ptr, exists, macros
(§7), the 10-lookup limit and the 2-void-lookup limit (§4.6.4), "exactly one
record" (§4.5). It asks DNS through a module-level function `spf.DNSLookup`,
which uses the system resolver. Patching that global would leak between
threads and between calls with different resolvers, so instead `ResolverQuery`
subclasses `spf.query` and overrides its one DNS entry point, `query.dns()`.
Everything above it (limits, caching per query, CNAME chains done by the
resolver) stays pyspf's. Each evaluation builds its own query object, so there
is no shared state at all: safe to run from several threads at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import spf as pyspf

from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver

# pyspf's per-lookup timeout is irrelevant here (our Resolver has its own), but
# pyspf passes it around; 0 disables its overall query-time budget.
_NO_QUERYTIME = 0


class ResolverQuery(pyspf.query):
    """A pyspf query whose DNS lookups go to `resolver`."""

    def __init__(self, resolver: Resolver, *, i: str, s: str, h: str) -> None:
        super().__init__(i=i, s=s, h=h, strict=True, querytime=_NO_QUERYTIME)
        self._resolver = resolver

    def dns(self, name, qtype, cnames=None, ignore_void=False):
        """pyspf's lookup primitive: a list of answers, [] for NXDOMAIN or NODATA.

        Same signature as `spf.query.dns`; `cnames` is unused because our Resolver
        follows CNAME chains itself. Keeps pyspf's contract: TXT answers as lists
        of byte strings, MX as (preference, exchange), A/AAAA/PTR as strings;
        TempError on DNS trouble;
        every empty answer counts as a void lookup (RFC 7208 §4.6.4) unless the
        caller says otherwise (pyspf ignores voids for exp= and type 99 lookups).
        """
        name = str(name).rstrip(".").lower()
        if not name or any(not 0 < len(label) < 64 for label in name.split(".")):
            return []  # RFC 7208 §4.3: malformed names give no result
        key = (name, qtype)
        if key not in self.cache:
            self.cache[key] = self._lookup(name, qtype)
        result = self.cache[key]
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > pyspf.MAX_VOID_LOOKUPS:
                raise pyspf.PermError(
                    f"Void lookup limit of {pyspf.MAX_VOID_LOOKUPS} exceeded", name
                )
        return result

    def _lookup(self, name: str, qtype: str) -> list:
        try:
            if qtype == "TXT":
                return [[text.encode("utf-8")] for text in self._resolver.txt(name)]
            if qtype == "MX":
                return list(self._resolver.mx(name))
            if qtype == "A":
                return list(self._resolver.a(name))
            if qtype == "AAAA":
                return list(self._resolver.aaaa(name))
            if qtype == "PTR":
                return list(self._resolver.ptr(name))
            return []  # type 99 (SPF): obsolete (RFC 7208 §3.1), never published alone
        except DnsNotFound:
            return []
        except DnsTemporary as exc:
            raise pyspf.TempError(f"DNS {exc}") from None


@dataclass(frozen=True)
class SpfOutcome:
    """pyspf's verdict for one IP: result is pass, fail, softfail, neutral, none,
    permerror or temperror; problem is pyspf's reason for a permerror/temperror;
    mechanism is the top-level term that decided (e.g. "~all"), when one did."""

    ip: str
    result: str
    explanation: str
    problem: str
    mechanism: str | None


def evaluate(ip: str, ascii_domain: str, resolver: Resolver) -> SpfOutcome:
    """check_host(ip, domain, postmaster@domain) as a receiver would run it (RFC 7208 §4)."""
    query = ResolverQuery(resolver, i=ip, s=f"postmaster@{ascii_domain}", h=ascii_domain)
    result, _code, explanation = query.check()
    return SpfOutcome(
        ip=ip,
        result=result,
        explanation=explanation,
        problem=str(getattr(query, "prob", "") or ""),
        mechanism=getattr(query, "mechanism", None),
    )
