"""Which IP addresses a webhook may connect to (SSRF, Standard Webhooks "Server side request
forgery"): one verdict for an address and port, used when a URL is set, when its name is
resolved for a POST, and on the socket the POST connects (relay/webhooks/session.py).

Refused always: the cloud metadata services, "this network" / unspecified, multicast, broadcast
and reserved space, link-local (no receiver lives there; metadata services do), every other
special-purpose range that is not a public address, and the relay's own listeners.
Refused unless `[webhooks] allow_private`: loopback and the private ranges (RFC 1918, shared
address space RFC 6598, unique local IPv6 RFC 4193, local-use NAT64 RFC 8215).
An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 RFC 6052,
6to4, Teredo) is judged by the IPv4 address inside as well: ::ffff:127.0.0.1 is loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata and platform services, refused even with allow_private: no webhook
# receiver lives there, and their answers hold credentials.
METADATA = {
    ipaddress.ip_address(a): what
    for a, what in (
        ("169.254.169.254", "the cloud instance metadata service (AWS, GCP, Azure, OpenStack)"),
        ("169.254.170.2", "the AWS ECS task metadata service"),
        ("169.254.170.23", "the AWS EKS pod identity agent"),
        ("fd00:ec2::254", "the AWS instance metadata service (IPv6)"),
        ("fd00:ec2::23", "the AWS EKS pod identity agent (IPv6)"),
        ("100.100.100.200", "the Alibaba Cloud metadata service"),
        ("168.63.129.16", "the Azure platform (wire server)"),
        ("192.0.0.192", "the Oracle Cloud metadata service"),
    )
}

# Allowed with allow_private only (besides loopback).
PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
        "64:ff9b:1::/48",
    )
)
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible (RFC 4291 2.5.5.1)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: IPv4 in the last 32 bits
# Forms whose connection ends at the IPv4 address inside (the kernel or a NAT64 gateway).
_TRANSLATED = ("IPv4-mapped", "IPv4-compatible", "NAT64")


@dataclass(frozen=True)
class Listener:
    """One of the relay's own listeners: `[section] listen` = "host:port"."""

    section: str  # "submission", "inbound", "http"
    host: str  # as written: an address, a wildcard ("0.0.0.0", "::") or a name
    port: int

    def reaches(self, ip: IPAddress, port: int, own: frozenset[IPAddress]) -> bool:
        if port != self.port:
            return False
        try:
            mine = ipaddress.ip_address(self.host)
        except ValueError:  # a name such as "localhost": it can only be one of this machine's
            return ip.is_loopback or ip in own or not ip.is_global
        if mine.is_unspecified:  # bound to every address of this machine
            return ip in own or not ip.is_global
        return ip == mine


def parse_listener(section: str, text: str) -> Listener:
    """'127.0.0.1:8025', '[::1]:2587', '0.0.0.0:25' -> Listener (config checked the form)."""
    host, _, port = text.rpartition(":")
    return Listener(section, host.strip("[]"), int(port))


def carried_ipv4(ip: IPAddress) -> Iterator[tuple[ipaddress.IPv4Address, str]]:
    """The IPv4 addresses an IPv6 address stands for, with the name of the form."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return
    if ip.ipv4_mapped is not None:
        yield ip.ipv4_mapped, "IPv4-mapped"
    elif ip in _V4_COMPATIBLE and int(ip) > 1:  # not :: or ::1
        yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"
    if ip in _NAT64:
        yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    elif ip in _NAT64_LOCAL:  # its IPv4 may sit elsewhere: judged as private as well
        yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "local-use NAT64"
    if ip.sixtofour is not None:
        yield ip.sixtofour, "6to4"
    if ip.teredo is not None:
        server, client = ip.teredo
        yield server, "Teredo server"
        yield client, "Teredo client"


def plain(text: str) -> IPAddress:
    """An address from a resolver or a socket, without an IPv6 zone ("fe80::1%eth0")."""
    return ipaddress.ip_address(text.partition("%")[0])


def refusal(
    ip: IPAddress,
    port: int,
    *,
    allow_private: bool,
    listeners: tuple[Listener, ...] = (),
    own: frozenset[IPAddress] = frozenset(),
) -> str | None:
    """Why a webhook may not connect to ip:port, in words, or None when it may."""
    stands_for = False
    for inner, form in carried_ipv4(ip):
        why = refusal(inner, port, allow_private=allow_private, listeners=listeners, own=own)
        if why:
            return f"{ip} is {inner} ({form}): {why}"
        stands_for = stands_for or form in _TRANSLATED
    if stands_for:  # the connection ends at the IPv4 address inside, which may be reached
        return None
    for listener in listeners:
        if listener.reaches(ip, port, own):
            return f"{ip} port {port} is the relay's own [{listener.section}] listener"
    return _category_refusal(ip, allow_private)


def _category_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    if ip in METADATA:
        return f"{ip} is {METADATA[ip]}"
    if ip.is_unspecified or (ip.version == 4 and ip in ipaddress.ip_network("0.0.0.0/8")):
        return f"{ip} is 'this host' (unspecified): it reaches the relay's own machine"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_link_local:
        return f"{ip} is link-local (cloud metadata services live there)"
    if ip.is_loopback:
        return None if allow_private else f"{ip} is loopback (the relay's own machine)"
    if any(ip in net for net in PRIVATE_NETS if net.version == ip.version):
        return None if allow_private else f"{ip} is a private network address"
    if ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255") or _site_local(ip):
        return f"{ip} is reserved (not in use on the Internet)"
    if not ip.is_global:
        return f"{ip} is a special-purpose address, not a public one"
    return None


def _site_local(ip: IPAddress) -> bool:
    """fec0::/10, deprecated by RFC 3879 yet still routed inside some networks."""
    return isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
