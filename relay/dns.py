"""The relay's one DNS stack: every resolver it uses is built here, from delivery.nameservers.

Two faces of the same adapter on dnspython: `DnspythonResolver` (blocking) implements
`dns_checks.Resolver` for the DNS checks, which run in a thread; `AsyncResolver` offers the
lookups MX routing needs (mx, a, aaaa) as coroutines on the event loop. Both share the
configuration, the error translation and the conversion of answers below.

Error model (dns_checks.resolver), for both: NODATA is an empty list; NXDOMAIN is
`DnsNotFound`; SERVFAIL, REFUSED, a timeout, a malformed answer or no reachable server
is `DnsTemporary`. Delivery turns the first into a permanent failure and the second
into a retry; a check turns the second into status "unknown".

Cache policy, one for both: a resolver caches answers for their TTL, negative answers
included (dnspython's Cache, RFC 2308), and the cache lives as long as the resolver.
Delivery keeps one resolver for the life of the process, so a batch of recipients at one
domain asks DNS once; a DNS check builds a new resolver for each run (`relay dns check`,
each pass of the re-checker), so it sees what is published now and still asks for each
name only once per run.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from config import Config
from dns_checks import DnsNotFound, DnsTemporary, RelaySetup
from relay.errors import SetupError
from relay.keys import public_key_b64

CHECK_TIMEOUT = 3.0  # a DNS check: a dead server costs at most this per lookup
DELIVERY_TIMEOUT = 5.0  # MX routing: a little more patience before deferring


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


def _configure(resolver: Any, nameservers: Sequence[str], timeout: float) -> Any:
    """Servers, time budget and cache: the one place these are decided."""
    if nameservers:
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(*parse_nameserver(item)) for item in nameservers
        ]
    # lifetime is the whole budget of one lookup, retries included.
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = dns.resolver.Cache()
    return resolver


def _system_or_empty(factory: type) -> Any:
    """The system's resolvers (/etc/resolv.conf); none configured is no crash: every lookup
    then fails as DnsTemporary, which is the truth ("cannot ask anybody")."""
    try:
        return factory(configure=True)
    except dns.resolver.NoResolverConfiguration:
        return factory(configure=False)


def _build(factory: type, nameservers: Sequence[str], timeout: float) -> Any:
    base = factory(configure=False) if nameservers else _system_or_empty(factory)
    return _configure(base, nameservers, timeout)


@contextlib.contextmanager
def _typed_errors(name: str, rdtype: str) -> Iterator[None]:
    try:
        yield
    except dns.resolver.NXDOMAIN:
        raise DnsNotFound(f"{name}: no such domain (NXDOMAIN)") from None
    except dns.resolver.NoNameservers as exc:
        raise DnsTemporary(
            f"{name} {rdtype}: no server answered (SERVFAIL or REFUSED): {exc}"
        ) from None
    except dns.exception.Timeout:
        raise DnsTemporary(f"{name} {rdtype}: DNS timeout") from None
    except dns.exception.DNSException as exc:
        # Malformed replies, names too long, YXDOMAIN, ...: nothing definite was learnt.
        raise DnsTemporary(f"{name} {rdtype}: {exc}") from None


def _host(name: dns.name.Name) -> str:
    """A host name without the final dot; the root (a null MX's exchange) stays "."."""
    return name.to_text(omit_final_dot=True) if len(name) > 1 else "."


def _values(rdtype: str, answer: dns.resolver.Answer) -> list[Any]:
    rdatas = list(answer.rrset or [])
    if rdtype == "TXT":
        # RFC 7208 §3.3 / RFC 6376 §3.6.2.2: the strings of one record are concatenated.
        return [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdatas]
    if rdtype == "MX":
        return [(r.preference, _host(r.exchange)) for r in rdatas]
    if rdtype in ("CNAME", "PTR"):
        return [_host(r.target) for r in rdatas]
    return [r.address for r in rdatas]  # A, AAAA


class DnspythonResolver:
    """The blocking face: `dns_checks.Resolver` on dnspython (run it in a thread).

    nameservers: "host:port" strings ("127.0.0.1:5353", "[::1]:53", "192.0.2.53");
    empty means the system's resolvers. timeout: the budget of one lookup, retries included.
    """

    def __init__(self, nameservers: Sequence[str] = (), timeout: float = CHECK_TIMEOUT) -> None:
        self._resolver = _build(dns.resolver.Resolver, nameservers, timeout)

    def _lookup(self, name: str, rdtype: str) -> list[Any]:
        with _typed_errors(name, rdtype):
            answer = self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        return _values(rdtype, answer)

    def txt(self, name: str) -> list[str]:
        return self._lookup(name, "TXT")

    def cname(self, name: str) -> str | None:
        return next(iter(self._lookup(name, "CNAME")), None)

    def mx(self, name: str) -> list[tuple[int, str]]:
        return self._lookup(name, "MX")

    def a(self, name: str) -> list[str]:
        return self._lookup(name, "A")

    def aaaa(self, name: str) -> list[str]:
        return self._lookup(name, "AAAA")

    def ptr(self, name: str) -> list[str]:
        return self._lookup(name, "PTR")


class AsyncResolver:
    """The event-loop face, for MX routing: the same answers and errors, as coroutines."""

    def __init__(self, nameservers: Sequence[str] = (), timeout: float = DELIVERY_TIMEOUT) -> None:
        self._resolver = _build(dns.asyncresolver.Resolver, nameservers, timeout)

    async def _lookup(self, name: str, rdtype: str) -> list[Any]:
        with _typed_errors(name, rdtype):
            answer = await self._resolver.resolve(
                name, rdtype, search=False, raise_on_no_answer=False
            )
        return _values(rdtype, answer)

    async def mx(self, name: str) -> list[tuple[int, str]]:
        return await self._lookup(name, "MX")

    async def a(self, name: str) -> list[str]:
        return await self._lookup(name, "A")

    async def aaaa(self, name: str) -> list[str]:
        return await self._lookup(name, "AAAA")


def _nameservers(config: Config) -> tuple[str, ...]:
    """delivery.nameservers, checked once here so every caller names the setting alike."""
    servers = tuple(config.delivery.nameservers)
    try:
        for server in servers:
            parse_nameserver(server)
    except ValueError as exc:  # relay.toml names a server we cannot use
        raise SetupError(f"delivery.nameservers in relay.toml: {exc}") from None
    return servers


def check_resolver(config: Config) -> DnspythonResolver:
    """A fresh resolver for one run of DNS checks (see the cache policy above)."""
    return DnspythonResolver(_nameservers(config))


def delivery_resolver(config: Config) -> AsyncResolver:
    """The resolver delivery keeps for the life of the process."""
    return AsyncResolver(_nameservers(config))


def relay_setup(config: Config, fallback_key_pem: str | None = None) -> RelaySetup:
    """The relay's side of every check, from relay.toml (and the fallback key, when the
    relay's own check needs it)."""
    return RelaySetup(
        hostname=config.relay.hostname,
        bounce_domain=config.inbound.bounce_domain,
        sending_ips=tuple(config.delivery.sending_ips),
        spf_include=config.dns.spf_include,
        fallback_domain=config.fallback.dkim_domain,
        fallback_selector=config.fallback.dkim_selector,
        fallback_public_key_b64=public_key_b64(fallback_key_pem) if fallback_key_pem else None,
    )
