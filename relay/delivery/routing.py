"""Where mail for a domain goes (RFC 5321 5.1, RFC 7505 null MX).

MX hosts in preference order; implicit MX (the domain's own A/AAAA) only when the domain has no
MX record at all; a null MX ("MX 0 .") means the domain takes no mail. A finding is permanent
only when every lookup behind it was a definite answer (NXDOMAIN, or NODATA: the name exists
without that record): no such domain, a null MX, a domain with neither MX nor address, MX hosts
none of which has an address (Postfix bounces these at once, 5.4.4). A SERVFAIL or timeout
anywhere on the way makes it temporary: the answer may differ later.
"""

import ipaddress
import random
from dataclasses import dataclass

from dns_checks import DnsNotFound, DnsTemporary
from relay.delivery.relayhost import Relayhost
from relay.dns import AsyncResolver


class RouteError(Exception):
    def __init__(self, permanent: bool, status: str, text: str) -> None:
        super().__init__(text)
        self.permanent = permanent
        self.status = status
        self.text = text


@dataclass(frozen=True)
class MxHost:
    name: str
    preference: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class _HostLookup:
    """The A and AAAA lookups of one MX host."""

    name: str
    usable: tuple[str, ...]
    refused: int  # private or loopback addresses (allow_private_mx is off)
    trouble: bool  # a lookup failed for now (SERVFAIL, timeout)


class Router:
    """resolver: the relay's AsyncResolver (relay.dns), with its typed errors and its cache."""

    def __init__(
        self, resolver: AsyncResolver, allow_private: bool, relayhost: Relayhost | None = None
    ) -> None:
        self.resolver = resolver
        self.allow_private = allow_private
        self.relayhost = relayhost

    def destination(self, domain: str) -> str:
        """The lane a recipient domain's mail takes: its own, or the relayhost's for all
        (so max_per_destination caps the connections to the relayhost, as in Postfix)."""
        return f"relayhost {self.relayhost}" if self.relayhost else domain

    async def route(self, domain: str) -> list[MxHost]:
        """MX hosts with addresses, best first; raises RouteError."""
        if self.relayhost is not None:  # relayhost: no MX lookup
            return [await self._relayhost(self.relayhost)]
        records = await self._mx(domain)
        implicit = records is None
        if records is None:  # no MX at all: the domain itself is the implicit MX (5.1)
            records = [(0, domain)]
        if len(records) == 1 and records[0][1] in ("", "."):
            raise RouteError(
                True, "5.1.10", f"{domain} publishes a null MX: it accepts no mail (RFC 7505)"
            )
        hosts, lookups = [], []
        for preference, name in _shuffle_equal(records):
            lookup = await self._addresses(name)
            lookups.append(lookup)
            if lookup.usable:
                hosts.append(MxHost(name, preference, lookup.usable))
        if not hosts:
            raise _no_host(domain, records, lookups, implicit)
        return hosts

    async def _mx(self, domain: str) -> list[tuple[int, str]] | None:
        try:
            answer = await self.resolver.mx(domain)
        except DnsNotFound:
            # The relay's own finding, not a server's reply: say so (issue 14).
            raise RouteError(
                True, "5.1.2", f"the relay's DNS lookup found no domain {domain} (NXDOMAIN)"
            ) from None
        except DnsTemporary as exc:  # timeout, SERVFAIL, odd answers: temporary
            raise RouteError(
                False, "4.4.3", f"the relay's DNS lookup of {domain} failed: {exc}"
            ) from None
        return sorted((pref, host.lower()) for pref, host in answer) or None

    async def _relayhost(self, relayhost: Relayhost) -> MxHost:
        """The relayhost's own A/AAAA (or the address it is), private ones included: the
        operator chose it. None found is temporary: the mail waits."""
        if relayhost.is_address:
            return MxHost(relayhost.host, 0, (relayhost.host,))
        found: list[str] = []
        for lookup in (self.resolver.a, self.resolver.aaaa):
            try:
                found += await lookup(relayhost.host)
            except (DnsNotFound, DnsTemporary):
                continue
        if not found:
            found_none = f"the relay's DNS lookup found no address of the relayhost {relayhost}"
            raise RouteError(False, "4.4.4", found_none)
        return MxHost(relayhost.host, 0, tuple(found))

    async def _addresses(self, name: str) -> _HostLookup:
        found: list[str] = []
        trouble = False
        for lookup in (self.resolver.a, self.resolver.aaaa):
            try:
                found += await lookup(name)
            except DnsNotFound:  # no such name: a definite answer, like NODATA ([])
                continue
            except DnsTemporary:  # DNS trouble: another MX host may do; else unknown
                trouble = True
        usable = tuple(a for a in found if self.allow_private or _is_public(a))
        return _HostLookup(name, usable, refused=len(found) - len(usable), trouble=trouble)


def _no_host(
    domain: str, records: list[tuple[int, str]], lookups: list[_HostLookup], implicit: bool
) -> RouteError:
    """Why no host of `domain` can be tried: permanent only when DNS said so definitely."""
    trouble = [x.name for x in lookups if x.trouble]
    if trouble:
        failed = ", ".join(trouble)
        return RouteError(
            False, "4.4.3", f"the relay's DNS lookup of the address of {failed} failed for now"
        )
    if any(x.refused for x in lookups):  # the operator may allow them; the MX may change
        return RouteError(
            False,
            "4.4.4",
            f"the MX hosts of {domain} have only private or loopback addresses, which the"
            " relay does not send to (delivery.allow_private_mx)",
        )
    if implicit:  # RFC 5321 5.1: no MX, and the domain's own address is none either
        words = f"neither an MX record nor an address (A/AAAA) for {domain}"
    else:
        names = ", ".join(name for _, name in records)
        words = f"no address (A/AAAA) for any MX host of {domain} ({names})"
    return RouteError(True, "5.4.4", f"the relay's DNS lookup found {words}")


def _is_public(address: str) -> bool:
    """Refuse loopback, private and link-local targets (an MX pointing inside our network)."""
    ip = ipaddress.ip_address(address)
    return ip.is_global


def _shuffle_equal(records: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """RFC 5321 5.1: hosts of equal preference are tried in random order."""
    return sorted(records, key=lambda r: (r[0], random.random()))
