"""Is a webhook URL acceptable? `check_url` answers for `PUT /api/v1/webhooks` and `relay shop
webhook`; `parse_url` is its part without DNS, run again before every POST; `resolve_checked` is
its DNS part, run again by the session's resolver at connect time (relay/webhooks/session.py),
so a name that changes its answer after the check (DNS rebinding) still reaches nothing inside.

The rules (Standard Webhooks, "Enforcing HTTPS" and "Server side request forgery"):
- `https://`; `http://` only to a loopback host written as such (127.0.0.1, [::1], localhost),
  for receivers on the relay's own machine (which need `allow_private`);
- no user-info (`user:pass@`: credentials in a URL end up in logs) and no fragment;
- a port from 1 to 65535;
- the host is a DNS name or an IP address in its standard spelling: 2130706433, 0177.0.0.1,
  0x7f.1 and 127.1 are refused, since parsers disagree on what they mean;
- every address the name resolves to passes relay/webhooks/addresses.py (one bad address
  refuses the URL: an attacker cannot mix a public address with an inner one and hope).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol

from yarl import URL

from config import Config
from dns_checks import DnsNotFound, DnsTemporary
from relay.webhooks.addresses import IPAddress, Listener, parse_listener, plain, refusal

MAX_URL_LENGTH = 2048
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # WHATWG URL: a host ending so is IPv4
_LOOPBACK_NAMES = ("localhost", "localhost.")  # RFC 6761 §6.3: always loopback, never asked
LOCALHOST_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


class AddressResolver(Protocol):
    """relay.dns.AsyncResolver: A and AAAA lookups with its typed errors."""

    async def a(self, name: str) -> list[str]: ...

    async def aaaa(self, name: str) -> list[str]: ...


@dataclass(frozen=True)
class UrlPolicy:
    """What may be reached: `[webhooks] allow_private`, the relay's own listeners and its own
    public addresses (`delivery.sending_ips`, which reach a listener bound to 0.0.0.0)."""

    allow_private: bool = False
    listeners: tuple[Listener, ...] = ()
    own_addresses: frozenset[IPAddress] = field(default_factory=frozenset)

    def refusal(self, ip: IPAddress, port: int) -> str | None:
        return refusal(
            ip,
            port,
            allow_private=self.allow_private,
            listeners=self.listeners,
            own=self.own_addresses,
        )


def policy_from_config(config: Config) -> UrlPolicy:
    sections = {
        "submission": (*config.submission.listen, *config.submission.listen_tls),
        "inbound": config.inbound.listen,
        "http": (config.http.listen,),
    }
    listeners = tuple(parse_listener(name, a) for name, items in sections.items() for a in items)
    own = set()
    for text in config.delivery.sending_ips:
        try:
            own.add(plain(text))
        except ValueError:
            continue  # `relay dns check --relay` reports a sending_ips entry that is no address
    return UrlPolicy(config.webhooks.allow_private, listeners, frozenset(own))


@dataclass(frozen=True)
class UrlProblem:
    """Why a URL is refused: `code` for programs, `detail` for people (CLI, API)."""

    code: str
    detail: str
    field: str = "url"

    def as_problem(self, type_uri: str = "/api/v1/problems/webhook-url") -> dict[str, Any]:
        """The RFC 9457 problem body the API answers with (status 422)."""
        return {
            "type": type_uri,
            "title": "The webhook URL is refused",
            "status": 422,
            "detail": self.detail,
            "field": self.field,
            "code": self.code,
        }


@dataclass(frozen=True)
class WebhookUrl:
    """A URL that passed `parse_url`: what the POST will use."""

    url: URL
    host: str  # IDNA (A-label) form, or the address of an IP literal
    port: int
    literal: tuple[IPAddress, ...] | None  # the addresses when no DNS is asked


@functools.lru_cache(maxsize=4096)  # pure, and run before every POST: a shop's URL repeats
def parse_url(text: str) -> WebhookUrl | UrlProblem:
    """The checks that need no DNS. yarl parses, as it will for the request itself."""
    if len(text) > MAX_URL_LENGTH:
        return UrlProblem("too-long", f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    if _SPACE_OR_CONTROL.search(text):
        return UrlProblem("invalid", "the URL contains spaces or control characters")
    if "#" in text:
        return UrlProblem("fragment", "the URL has a fragment (#...): remove it")
    try:
        url = URL(text)
        port = url.port
    except ValueError as exc:
        return UrlProblem("invalid", f"not a valid URL: {exc}")
    if url.scheme not in ("https", "http"):
        return UrlProblem("not-https", "the URL must start with https://")
    if url.raw_user is not None or url.raw_password is not None:
        return UrlProblem("userinfo", "the URL carries a user name or password (user@): remove it")
    if not url.raw_host:
        return UrlProblem("host", "the URL names no host")
    if port is None or not 0 < port < 65536:
        return UrlProblem("port", f"port {port} is out of range (1-65535)")
    host = _host(url.raw_host)
    if isinstance(host, UrlProblem):
        return host
    literal = _literal_addresses(host)
    if url.scheme == "http" and not (literal and all(ip.is_loopback for ip in literal)):
        return UrlProblem(
            "not-https",
            "the URL must start with https:// (http:// only for 127.0.0.1, [::1] or localhost)",
        )
    return WebhookUrl(url, host, port, literal)


def _host(raw: str) -> str | UrlProblem:
    if ":" in raw:  # an IPv6 literal (yarl took the brackets off)
        if "%" in raw:
            return UrlProblem("host", "an IPv6 zone (%...) has no meaning outside this machine")
        try:
            return str(ipaddress.IPv6Address(raw))
        except ValueError:
            return UrlProblem("host", f"{raw!r} is not an IPv6 address")
    name = raw.rstrip(".")
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(name))  # the standard dotted-decimal spelling
        except ValueError:
            return UrlProblem("numeric-host", _numeric_words(name))
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return UrlProblem("host", f"{raw!r} is not a valid host name")
    return raw


def _numeric_words(name: str) -> str:
    try:
        meant = socket.inet_ntoa(socket.inet_aton(name))
    except OSError:
        return f"{name!r} is neither a host name nor an IP address"
    return (
        f"{name!r} is the IPv4 address {meant} in a non-standard spelling: "
        "write IP addresses as four decimal numbers"
    )


def _literal_addresses(host: str) -> tuple[IPAddress, ...] | None:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost") or host.endswith(".localhost."):
        return LOCALHOST_ADDRESSES
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        return None


async def resolve_checked(
    target: WebhookUrl, policy: UrlPolicy, resolver: AddressResolver
) -> list[IPAddress] | UrlProblem:
    """The addresses of the URL's host, each allowed by the policy, or why not."""
    return await addresses_for(target.host, target.port, policy, resolver, target.literal)


async def addresses_for(
    host: str,
    port: int,
    policy: UrlPolicy,
    resolver: AddressResolver,
    literal: tuple[IPAddress, ...] | None = None,
) -> list[IPAddress] | UrlProblem:
    """host's addresses (literal ones, or A and AAAA), every one allowed for port, or why not."""
    addresses = literal
    if addresses is None:
        try:
            v4, v6 = await asyncio.gather(resolver.a(host), resolver.aaaa(host))
            found = [*v4, *v6]
        except DnsNotFound:
            return UrlProblem("unresolvable", f"{host} does not exist (NXDOMAIN)")
        except DnsTemporary as exc:
            return UrlProblem("dns", f"{host} could not be resolved now ({exc})")
        if not found:
            return UrlProblem("unresolvable", f"{host} has no address (A or AAAA)")
        addresses = tuple(plain(a) for a in found)
    for ip in addresses:
        why = policy.refusal(ip, port)
        if why:
            where = "" if literal else f"{host} resolves to {ip}; "
            return UrlProblem("address", f"{where}{why}: refused")
    return list(addresses)


def split_host(host: str) -> tuple[str, tuple[IPAddress, ...] | None] | UrlProblem:
    """A host as the HTTP client hands it to the resolver: (host, literal addresses or None)."""
    checked = _host(host)
    if isinstance(checked, UrlProblem):
        return checked
    return checked, _literal_addresses(checked)


async def check_url(text: str, policy: UrlPolicy, resolver: AddressResolver) -> UrlProblem | None:
    """Why a shop's webhook URL is refused, or None when the relay may POST to it."""
    target = parse_url(text)
    if isinstance(target, UrlProblem):
        return target
    checked = await resolve_checked(target, policy, resolver)
    return checked if isinstance(checked, UrlProblem) else None
