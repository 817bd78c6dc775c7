"""The query layer: one small DNS interface that every check takes as an argument.

Checks never talk to DNS themselves, and nothing in this package does I/O: they call a
`Resolver`. The relay passes `relay.dns.DnspythonResolver` (dnspython, built from
`delivery.nameservers`); unit tests pass `dns_checks.memory.MemoryResolver`; the rig's tests
pass the relay's resolver pointed at nsd on loopback.

Error model (the same for every method, and the same in the relay's MX routing):
- NOERROR with no records of that type (NODATA): an empty result, never an error.
- NXDOMAIN: `DnsNotFound`. Callers that treat "no such name" like "no record"
  (SPF, DKIM, DMARC all do) catch it; it is typed so that a check can say
  "this name does not exist" when that helps.
- SERVFAIL, REFUSED, timeout, no reachable server: `DnsTemporary`. A check that
  sees it reports status "unknown" so the caller keeps its last good verdict.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class DnsError(Exception):
    """Base class of the resolver's typed errors."""


class DnsNotFound(DnsError):
    """NXDOMAIN: the name does not exist at all."""


class DnsTemporary(DnsError):
    """SERVFAIL, REFUSED, timeout: nothing can be concluded; try again later."""


@runtime_checkable
class Resolver(Protocol):
    """What the checks need from DNS. Names are ASCII (A-labels), without trailing dot.

    `txt`, `mx`, `a`, `aaaa` and `ptr` follow CNAMEs, as a recursive resolver does.
    Host names in answers come without the trailing dot; the null MX of RFC 7505
    ("MX 0 .") has the exchange ".".
    """

    def txt(self, name: str) -> list[str]:
        """One string per TXT record, its character-strings joined without separator."""
        ...

    def cname(self, name: str) -> str | None:
        """The CNAME target of `name` (no trailing dot), or None when it is no alias."""
        ...

    def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, exchange) pairs, in no particular order."""
        ...

    def a(self, name: str) -> list[str]: ...

    def aaaa(self, name: str) -> list[str]: ...

    def ptr(self, name: str) -> list[str]:
        """The names a reverse name ("1.0.0.127.in-addr.arpa") points to."""
        ...
