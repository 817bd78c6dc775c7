"""The relay's one DNS stack (relay/dns.py) against a tiny DNS server on loopback, and
MemoryResolver.

The tiny server answers from a dict (with CNAME chasing, like a recursive resolver's
answer), counts the queries it gets, and can SERVFAIL, REFUSE or stay silent, so the typed
errors, "host:port" nameservers, the timeout and the cache are tested over real sockets, for
the checks' blocking resolver and for MX routing's async one alike.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dns_checks import (
    DnsNotFound,
    DnsTemporary,
    MemoryResolver,
    RelaySetup,
    check_domain,
)
from dns_checks.resolver import Resolver
from relay.delivery.routing import RouteError, Router
from relay.dns import AsyncResolver, DnspythonResolver, parse_nameserver

ZONE = {
    ("shop.example", "TXT"): ['"v=spf1 " "include:_spf.relay.example ~all"', '"hello"'],
    ("shop.example", "MX"): ["20 mx2.shop.example.", "10 mx1.shop.example."],
    ("mx1.shop.example", "A"): ["192.0.2.25"],
    ("mx1.shop.example", "AAAA"): ["2001:db8::25"],
    ("alias.shop.example", "CNAME"): ["target.keys.example."],
    ("target.keys.example", "TXT"): ['"v=DKIM1; p=QUJD"'],
    ("_spf.relay.example", "TXT"): ['"v=spf1 ip4:192.0.2.10 -all"'],
    ("1.0.0.127.in-addr.arpa", "PTR"): ["relay.example."],
    ("nullmx.example", "MX"): ["0 ."],
    ("implicit.example", "A"): ["127.0.0.1"],
}
RCODES = {"broken.example": dns.rcode.SERVFAIL, "refused.example": dns.rcode.REFUSED}


class TinyDns:
    """A UDP DNS server on 127.0.0.1 answering from ZONE-like dicts."""

    def __init__(self, zone: dict) -> None:
        self.zone = zone
        self.names = {name for name, _ in zone}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.running = True
        self.asked: list[tuple[str, str]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.sock.sendto(self._answer(dns.message.from_wire(data)).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.asked.append((name, rdtype))
        if name in RCODES:
            response.set_rcode(RCODES[name])
            return response
        for _ in range(8):  # follow CNAMEs inside the zone, as a resolver's answer would
            if (name, rdtype) in self.zone or (name, "CNAME") not in self.zone:
                break
            target = self.zone[(name, "CNAME")][0]
            response.answer.append(dns.rrset.from_text(name + ".", 300, "IN", "CNAME", target))
            name = target.rstrip(".")
        if (name, rdtype) in self.zone:
            rrset = dns.rrset.from_text_list(
                name + ".", 300, "IN", rdtype, self.zone[(name, rdtype)]
            )
            response.answer.append(rrset)
        elif not any(n == name or n.endswith("." + name) for n in self.names):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def server():
    tiny = TinyDns(ZONE)
    yield tiny
    tiny.close()


@pytest.fixture
def resolver(server) -> DnspythonResolver:
    return DnspythonResolver([server.address], timeout=2.0)


def test_is_a_resolver(resolver):
    assert isinstance(resolver, Resolver)
    assert isinstance(MemoryResolver(), Resolver)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
        ("2001:db8::53", ("2001:db8::53", 53)),
        (" 127.0.0.1:53 ", ("127.0.0.1", 53)),
    ],
)
def test_parse_nameserver(spec, expected):
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize("spec", ["ns.example:53", "127.0.0.1:0", "127.0.0.1:x", "[::1", ""])
def test_parse_nameserver_names_the_bad_entry(spec):
    with pytest.raises(ValueError, match="nameserver"):
        parse_nameserver(spec)


def test_txt_joins_character_strings(resolver):
    assert sorted(resolver.txt("shop.example")) == [
        "hello",
        "v=spf1 include:_spf.relay.example ~all",
    ]


def test_nodata_is_empty_and_nxdomain_is_typed(resolver):
    assert resolver.a("shop.example") == []
    assert resolver.txt("example") == []  # an empty non-terminal exists
    with pytest.raises(DnsNotFound):
        resolver.txt("nowhere.example")


@pytest.mark.parametrize("name", ["broken.example", "refused.example"])
def test_servfail_and_refused_are_temporary(resolver, name):
    with pytest.raises(DnsTemporary):
        resolver.txt(name)


def test_cname_and_txt_through_cname(resolver):
    assert resolver.cname("alias.shop.example") == "target.keys.example"
    assert resolver.cname("shop.example") is None
    assert resolver.txt("alias.shop.example") == ["v=DKIM1; p=QUJD"]


def test_mx_a_aaaa(resolver):
    assert sorted(resolver.mx("shop.example")) == [
        (10, "mx1.shop.example"),
        (20, "mx2.shop.example"),
    ]
    assert resolver.a("mx1.shop.example") == ["192.0.2.25"]
    assert resolver.aaaa("mx1.shop.example") == ["2001:db8::25"]


def test_timeout_is_temporary_and_quick():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives queries, never answers
    try:
        resolver = DnspythonResolver([f"127.0.0.1:{silent.getsockname()[1]}"], timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DnsTemporary, match="timeout"):
            resolver.txt("shop.example")
        assert time.monotonic() - started < 1.5
    finally:
        silent.close()


def test_check_domain_over_real_sockets(server):
    """The checks' lookups go through DnspythonResolver to our server, not to the system's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_b64 = base64.b64encode(der).decode()
    zone = {
        ("shop.example", "TXT"): ['"v=spf1 include:_spf.relay.example ~all"'],
        ("_spf.relay.example", "TXT"): ['"v=spf1 ip4:192.0.2.10 -all"'],
        ("s1._domainkey.shop.example", "CNAME"): ["s1.keys.example."],
        ("s1.keys.example", "TXT"): [f'"v=DKIM1; k=rsa; p={key_b64[:200]}" "{key_b64[200:]}"'],
        ("_dmarc.shop.example", "TXT"): ['"v=DMARC1; p=none"'],
    }
    tiny = TinyDns(zone)
    try:
        resolver = DnspythonResolver([tiny.address], timeout=2.0)
        relay = RelaySetup("relay.example", "bounces.relay.example", ("192.0.2.10",), "_spf.x")
        report = check_domain("shop.example", "s1", key_b64, relay, resolver)
    finally:
        tiny.close()
    assert [r.status for r in report.results] == ["ok", "ok", "optional", "optional"]
    assert report.verified is True
    assert report.result("dkim").detail["cname"] == "s1.keys.example"


def test_ptr_follows_the_reverse_name(resolver):
    assert resolver.ptr("1.0.0.127.in-addr.arpa") == ["relay.example"]


def test_null_mx_exchange_is_the_root(resolver):
    assert resolver.mx("nullmx.example") == [(0, ".")]
    assert MemoryResolver({"n.example": {"MX": [(0, ".")]}}).mx("n.example") == [(0, ".")]


# --- one stack: the async face, MX routing's errors, the cache ---------------------------


def test_async_face_gives_the_same_answers_and_typed_errors(server):
    async def run() -> tuple:
        resolver = AsyncResolver([server.address], timeout=2.0)
        mx = await resolver.mx("shop.example")
        a = await resolver.a("mx1.shop.example")
        errors = []
        for name in ("nowhere.example", "broken.example"):
            try:
                await resolver.mx(name)
            except (DnsNotFound, DnsTemporary) as exc:
                errors.append(type(exc))
        return sorted(mx), a, errors

    mx, a, errors = asyncio.run(run())
    assert mx == [(10, "mx1.shop.example"), (20, "mx2.shop.example")]
    assert a == ["192.0.2.25"]
    assert errors == [DnsNotFound, DnsTemporary]


def route(server, domain: str):  # type: ignore[no-untyped-def]
    router = Router(AsyncResolver([server.address], timeout=2.0), allow_private=True)
    try:
        return asyncio.run(router.route(domain))
    except RouteError as exc:
        return exc


@pytest.mark.parametrize(
    ("domain", "permanent", "status"),
    [
        ("nowhere.example", True, "5.1.2"),  # NXDOMAIN: DnsNotFound
        ("broken.example", False, "4.4.3"),  # SERVFAIL: DnsTemporary
        ("nullmx.example", True, "5.1.10"),  # RFC 7505
    ],
)
def test_mx_routing_reads_the_typed_errors(server, domain, permanent, status):
    error = route(server, domain)
    assert isinstance(error, RouteError)
    assert (error.permanent, error.status) == (permanent, status)


def test_mx_routing_implicit_mx_on_nodata(server):
    hosts = route(server, "implicit.example")
    assert [(h.name, h.addresses) for h in hosts] == [("implicit.example", ("127.0.0.1",))]


def test_each_resolver_caches_for_the_ttl_and_a_new_one_asks_again(server):
    """The one cache policy (relay/dns.py): delivery's long-lived resolver asks once for a
    batch; a DNS check's fresh resolver sees what is published now."""
    server.asked.clear()
    checks = DnspythonResolver([server.address], timeout=2.0)
    assert checks.txt("shop.example") == checks.txt("shop.example")
    assert server.asked.count(("shop.example", "TXT")) == 1
    DnspythonResolver([server.address], timeout=2.0).txt("shop.example")
    assert server.asked.count(("shop.example", "TXT")) == 2

    async def twice() -> None:
        delivery = AsyncResolver([server.address], timeout=2.0)
        await delivery.mx("shop.example")
        await delivery.mx("shop.example")

    asyncio.run(twice())
    assert server.asked.count(("shop.example", "MX")) == 1


# --- MemoryResolver semantics the unit tests rely on --------------------------------


def test_memory_resolver_behaves_like_dns():
    memory = MemoryResolver(
        {
            "s1._domainkey.shop.example": {"CNAME": "key.host.example."},
            "key.host.example": {"TXT": "v=DKIM1; p="},
            "Shop.Example.": {"MX": [(10, "MX.Shop.Example.")]},
        },
        temporary=["slow.example"],
    )
    assert memory.txt("s1._domainkey.shop.example") == ["v=DKIM1; p="]
    assert memory.cname("s1._domainkey.shop.example") == "key.host.example"
    assert memory.txt("_domainkey.shop.example") == []  # empty non-terminal: NODATA
    assert memory.mx("shop.example") == [(10, "mx.shop.example")]
    with pytest.raises(DnsNotFound):
        memory.a("nowhere.example")
    with pytest.raises(DnsTemporary):
        memory.txt("slow.example")
    assert memory.queries[0] == ("s1._domainkey.shop.example", "TXT")
