"""The query layer: DnspythonResolver against a tiny DNS server on loopback, and MemoryResolver.

The tiny server answers from a dict (with CNAME chasing, like a recursive
resolver's answer), and can SERVFAIL, REFUSE or stay silent, so the typed
errors, "host:port" nameservers and the timeout are tested over real sockets.
"""

from __future__ import annotations

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

from dns_checks import DnsNotFound, DnspythonResolver, DnsTemporary, MemoryResolver, check_domain
from dns_checks.resolver import Resolver, parse_nameserver

ZONE = {
    ("shop.example", "TXT"): ['"v=spf1 " "include:_spf.relay.example ~all"', '"hello"'],
    ("shop.example", "MX"): ["20 mx2.shop.example.", "10 mx1.shop.example."],
    ("mx1.shop.example", "A"): ["192.0.2.25"],
    ("mx1.shop.example", "AAAA"): ["2001:db8::25"],
    ("alias.shop.example", "CNAME"): ["target.keys.example."],
    ("target.keys.example", "TXT"): ['"v=DKIM1; p=QUJD"'],
    ("_spf.relay.example", "TXT"): ['"v=spf1 ip4:192.0.2.10 -all"'],
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
    """pyspf's lookups go through DnspythonResolver to our server, not to the system's."""
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
        report = check_domain(
            "shop.example", "s1", key_b64, ["192.0.2.10"], "_spf.relay.example", resolver
        )
    finally:
        tiny.close()
    assert [r.status for r in report.results] == ["ok", "ok", "ok"]
    assert report.verified is True
    assert report.result("dkim").detail["cname"] == "s1.keys.example"


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
