"""The query layer: one small DNS interface that every check takes as an argument.

Checks never talk to DNS themselves; they call a `Resolver`. Production passes a
`DnspythonResolver`; unit tests pass `dns_checks.memory.MemoryResolver`; the rig's
golden tests pass a `DnspythonResolver` pointed at nsd on loopback.

Error model (the same for every method):
- NOERROR with no records of that type (NODATA): an empty result, never an error.
- NXDOMAIN: `DnsNotFound`. Callers that treat "no such name" like "no record"
  (SPF, DKIM, DMARC all do) catch it; it is typed so that a check can say
  "this name does not exist" when that helps.
- SERVFAIL, REFUSED, timeout, no reachable server: `DnsTemporary`. A check that
  sees it reports status "unknown" so the caller keeps its last good verdict.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import dns.exception
import dns.nameserver
import dns.resolver


class DnsError(Exception):
    """Base class of the resolver's typed errors."""


class DnsNotFound(DnsError):
    """NXDOMAIN: the name does not exist at all."""


class DnsTemporary(DnsError):
    """SERVFAIL, REFUSED, timeout: nothing can be concluded; try again later."""


@runtime_checkable
class Resolver(Protocol):
    """What the checks need from DNS. Names are ASCII (A-labels), without trailing dot.

    `txt`, `mx`, `a` and `aaaa` follow CNAMEs, as a recursive resolver does.
    An implementation may also offer `ptr(name) -> list[str]` (a reverse name such
    as "10.2.0.192.in-addr.arpa"); SPF's deprecated `ptr` mechanism and the %{p}
    macro use it when present and otherwise see no PTR records (RFC 7208 §5.5:
    a PTR lookup error simply makes the mechanism not match).
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


def parse_nameserver(spec: str) -> tuple[str, int]:
    """'127.0.0.1:5353' -> ('127.0.0.1', 5353); '[::1]:5353', '::1', '192.0.2.1' -> port 53.

    Raises ValueError naming the bad entry: this comes straight from relay.toml.
    """
    text = spec.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"nameserver {spec!r}: expected '[address]:port'")
        port = rest[1:] or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        port_number = int(port)
    except ValueError:
        raise ValueError(f"nameserver {spec!r}: expected 'address' or 'address:port'") from None
    if not 0 < port_number < 65536:
        raise ValueError(f"nameserver {spec!r}: port out of range")
    return host, port_number


class DnspythonResolver:
    """The real resolver, built on dnspython.

    nameservers: "host:port" strings ("127.0.0.1:5353", "[::1]:53", "192.0.2.53");
    empty or None means the system's resolvers from /etc/resolv.conf.
    timeout: the whole budget for one lookup, retries included (dnspython's
    `lifetime`), so a dead server costs at most `timeout` seconds, then DnsTemporary.
    No cache: a DNS check must see what is published now, not what was seen earlier.
    """

    def __init__(self, nameservers: Sequence[str] | None = None, timeout: float = 3.0) -> None:
        self._resolver = self._build(list(nameservers or []))
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout

    @staticmethod
    def _build(nameservers: list[str]) -> dns.resolver.Resolver:
        if not nameservers:
            try:
                return dns.resolver.Resolver(configure=True)
            except dns.resolver.NoResolverConfiguration:
                # No /etc/resolv.conf: every lookup will fail as DnsTemporary,
                # which is the truth ("cannot ask anybody") rather than a crash.
                return dns.resolver.Resolver(configure=False)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host, port)
            for host, port in map(parse_nameserver, nameservers)
        ]
        return resolver

    def _query(self, name: str, rdtype: str) -> list:
        try:
            answer = self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            raise DnsNotFound(f"{name}: no such domain (NXDOMAIN)") from None
        except dns.resolver.NoNameservers as exc:
            raise DnsTemporary(
                f"{name} {rdtype}: no server answered (SERVFAIL or REFUSED): {exc}"
            ) from None
        except dns.exception.Timeout:
            raise DnsTemporary(f"{name} {rdtype}: DNS timeout") from None
        except (dns.resolver.YXDOMAIN, dns.resolver.NoRootSOA) as exc:
            raise DnsTemporary(f"{name} {rdtype}: {exc}") from None
        except dns.exception.DNSException as exc:
            # Malformed replies, names too long, ...: nothing definite was learnt.
            raise DnsTemporary(f"{name} {rdtype}: {exc}") from None
        return list(answer.rrset or [])

    def txt(self, name: str) -> list[str]:
        # RFC 7208 §3.3 / RFC 6376 §3.6.2.2: the strings of one record are concatenated.
        return [
            b"".join(rdata.strings).decode("utf-8", errors="replace")
            for rdata in self._query(name, "TXT")
        ]

    def cname(self, name: str) -> str | None:
        rdatas = self._query(name, "CNAME")
        return rdatas[0].target.to_text(omit_final_dot=True) if rdatas else None

    def mx(self, name: str) -> list[tuple[int, str]]:
        return [
            (rdata.preference, rdata.exchange.to_text(omit_final_dot=True))
            for rdata in self._query(name, "MX")
        ]

    def a(self, name: str) -> list[str]:
        return [rdata.address for rdata in self._query(name, "A")]

    def aaaa(self, name: str) -> list[str]:
        return [rdata.address for rdata in self._query(name, "AAAA")]

    def ptr(self, name: str) -> list[str]:
        return [rdata.target.to_text(omit_final_dot=True) for rdata in self._query(name, "PTR")]
