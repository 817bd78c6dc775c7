"""The HTTP session webhooks are POSTed with: it connects only where the URL policy allows.

Two checks at connect time, after `check_url` approved the URL when the shop set it:
- the session's resolver (`GuardedResolver`, an aiohttp `AbstractResolver`) asks the relay's DNS
  (`delivery.nameservers`) and refuses a name when any of its addresses is refused, so a name
  that resolves elsewhere after the check (DNS rebinding) reaches nothing inside;
- the socket factory (`TCPConnector(socket_factory=...)`, public since aiohttp 3.12) checks the
  very address each socket is about to connect to, whatever produced it: a resolver, an IP
  literal (aiohttp never asks a resolver for those), a cached answer.
Redirects are never followed (the sender passes allow_redirects=False), no proxy is read from
the environment, no cookie is kept, and nothing is decompressed.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from relay.webhooks.addresses import plain
from relay.webhooks.guard import AddressResolver, UrlPolicy, UrlProblem, addresses_for, split_host

USER_AGENT = "relay-webhooks/1 (Standard Webhooks)"
AddrInfo = tuple[Any, ...]  # (family, type, proto, canonname, sockaddr), as getaddrinfo gives


class AddressRefused(OSError):
    """The URL policy refuses where the connection would go (a refusal, not an outage)."""


class ResolveFailed(OSError):
    """The host could not be resolved now (NXDOMAIN, SERVFAIL, timeout): try again later."""


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver hook on the relay's DNS, returning only allowed addresses."""

    def __init__(self, policy: UrlPolicy, resolver: AddressResolver) -> None:
        self._policy = policy
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        split = split_host(host)
        if isinstance(split, UrlProblem):
            raise AddressRefused(split.detail)
        name, literal = split
        found = await addresses_for(name, port, self._policy, self._resolver, literal)
        if isinstance(found, UrlProblem):
            raise (AddressRefused if found.code == "address" else ResolveFailed)(found.detail)
        results: list[ResolveResult] = []
        for ip in found:
            ip_family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            if family in (socket.AF_UNSPEC, ip_family):
                results.append(
                    {
                        "hostname": host,
                        "host": str(ip),
                        "port": port,
                        "family": ip_family,
                        "proto": 0,
                        "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                    }
                )
        if not results:
            raise ResolveFailed(f"{host} has no address of the family asked for")
        return results

    async def close(self) -> None:
        return None


def guarded_socket_factory(policy: UrlPolicy) -> Callable[[AddrInfo], socket.socket]:
    """A socket factory that refuses to make a socket for a refused destination."""

    def make(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        why = policy.refusal(plain(str(sockaddr[0])), int(sockaddr[1]))
        if why:
            raise AddressRefused(f"{why}: refused")
        return socket.socket(family, type_, proto)

    return make


def guarded_session(
    policy: UrlPolicy,
    resolver: AddressResolver,
    *,
    max_connections: int = 100,
    ssl_context: ssl.SSLContext | None = None,
) -> aiohttp.ClientSession:
    """A ClientSession for webhook POSTs (create it inside the event loop that uses it).

    ssl_context: None verifies certificates against the system's CAs (tests pass their own CA).
    """
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, resolver),
        socket_factory=guarded_socket_factory(policy),
        limit=max_connections,
        ssl=ssl_context if ssl_context is not None else True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )
