"""The lab's DNS: one authoritative server on 127.0.0.53 (UDP and TCP) for the names below.

Every other name is NXDOMAIN, which is how the "host unknown" DSNs come about. Runs inside
the private network namespace of one MTA run (see make.py), so port 53 is ours alone.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ADDRESS = "127.0.0.53"
TTL = 60
SOA = "ns.example.org. hostmaster.example.org. 1 3600 600 86400 60"

# name -> {type: [rdata text]}; PTRs so that every lab address has a name.
RECORDS: dict[str, dict[str, list[str]]] = {
    "example.org.": {"MX": ["10 mx.example.org."], "SOA": [SOA]},
    "mx.example.org.": {"A": ["127.0.0.1"]},
    "store.example.org.": {"A": ["127.0.0.2"]},
    "example.net.": {"MX": ["10 mx.example.net."]},
    "mx.example.net.": {"A": ["127.0.0.3"]},
    "bounces.relay.example.net.": {"MX": ["10 mx.bounces.relay.example.net."]},
    "mx.bounces.relay.example.net.": {"A": ["127.0.0.4"]},
    "relay.example.net.": {"A": ["127.0.0.5"]},
    "shop.example.com.": {"MX": ["10 mx.bounces.relay.example.net."]},
    "localhost.": {"A": ["127.0.0.1"]},
    "1.0.0.127.in-addr.arpa.": {"PTR": ["mx.example.org."]},
    "2.0.0.127.in-addr.arpa.": {"PTR": ["store.example.org."]},
    "3.0.0.127.in-addr.arpa.": {"PTR": ["mx.example.net."]},
    "4.0.0.127.in-addr.arpa.": {"PTR": ["mx.bounces.relay.example.net."]},
    "5.0.0.127.in-addr.arpa.": {"PTR": ["relay.example.net."]},
    "6.0.0.127.in-addr.arpa.": {"PTR": ["mx.example.org."]},  # the MTA's second address
    "53.0.0.127.in-addr.arpa.": {"PTR": ["ns.example.org."]},
}


def answer(wire: bytes) -> bytes | None:
    """The response to one query in wire format (None for what is no query)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if not query.question:
        response.set_rcode(dns.rcode.FORMERR)
        return response.to_wire()
    question = query.question[0]
    name = question.name.to_text().lower()
    kind = dns.rdatatype.to_text(question.rdtype)
    records = RECORDS.get(name)
    if records is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif kind in records:
        response.answer.append(
            dns.rrset.from_text_list(question.name, TTL, "IN", kind, records[kind])
        )
    if not response.answer:  # NXDOMAIN or NODATA: the SOA says for how long (RFC 2308 §3)
        response.authority.append(dns.rrset.from_text("example.org.", TTL, "IN", "SOA", SOA))
    return response.to_wire()


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = answer(data)
        if reply:
            sock.sendto(reply, self.client_address)


class _Tcp(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            reply = answer(self.rfile.read(struct.unpack("!H", head)[0]))
            if not reply:
                return
            self.wfile.write(struct.pack("!H", len(reply)) + reply)


class _ThreadingUdp(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _ThreadingTcp(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve() -> None:
    """Start the UDP and TCP servers in daemon threads (they end with the process)."""
    for server in (_ThreadingUdp((ADDRESS, 53), _Udp), _ThreadingTcp((ADDRESS, 53), _Tcp)):
        threading.Thread(target=server.serve_forever, daemon=True).start()


def resolves(name: str) -> bool:
    """A quick self-check from inside the namespace."""
    query = dns.message.make_query(name, "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(query.to_wire(), (ADDRESS, 53))
        reply = dns.message.from_wire(sock.recv(4096))
    return bool(reply.answer)
