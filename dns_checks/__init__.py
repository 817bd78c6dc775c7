"""dns_checks: is a shop's domain (and the relay's own) set up so that the relay may send as it?

A leaf package: it imports nothing of ours (not `relay`, not `config`) and does no I/O
(no sockets, no DNS queries of its own, no files written; tests/test_project.py checks
it); it uses the standard library, pyspf (its evaluator, on our resolver), publicsuffixlist,
idna and cryptography. Nothing here prints or reads configuration; every function that needs
DNS takes a `Resolver`, and the relay's side comes as a `RelaySetup`. Three layers, as in
checkdmarc:

    query   resolver.py      Resolver protocol, typed DNS errors (the relay's adapter on
                             dnspython is relay.dns.DnspythonResolver)
                             memory.py: MemoryResolver, an in-memory Resolver for tests
    parse   spf_parse.py, dkim_keys.py, dmarc_policy.py, taglist.py, names.py:
                             pure functions on record text and domain names
    check   dkim.py, dmarc.py, return_path.py, spf.py (+ spf_eval.py: pyspf on our
            resolver), checks.py (check_domain), records.py (what to publish), typos.py;
            the relay's own: relay_check.py (check_relay, relay_records), relay_spf.py,
            bounce_mx.py, ptr.py, mta_sts.py

Public API
----------
Resolvers raise DnsNotFound for NXDOMAIN, DnsTemporary for SERVFAIL/REFUSED/timeout;
NODATA is an empty list:

    MemoryResolver(records: {name: {"TXT": [...], "MX": [(10, "mx.x")], "A": [...],
                   "AAAA": [...], "PTR": [...], "CNAME": "target"}},
                   temporary=[names that SERVFAIL])

The relay's side:

    RelaySetup(hostname, bounce_domain, sending_ips, spf_include,
               fallback_domain="", fallback_selector="", fallback_public_key_b64=None)

Checking a sender domain:

    check_domain(domain, selector, public_key_der_b64, relay: RelaySetup, resolver,
                 *, from_domain=None) -> DomainReport
    to_json(report) -> dict

    DomainReport(domain, ascii_domain, results: list[CheckResult], verified, dns_trouble,
                 return_path)
        .result("dkim") -> CheckResult | None
    CheckResult(check, status, found, expected, action, detail)
        check: "dkim", "dmarc", "return_path", "spf" (at bounces.<domain>), or "domain"
               alone for a public mailbox domain (gmail.com, ...) or text that is no
               domain; then no DNS query is made.
        status: Status.OK | WARNING | ERROR | UNKNOWN | OPTIONAL (a StrEnum: == "ok" works).
        action: one sentence: what is wrong, why, what to publish; "" when ok.
                detail["reason"] is a stable kebab-case code for code.

    verified    = the DKIM key in DNS is the shop's key AND d= aligns with the From domain.
                  The shop's SPF record plays no part: receivers evaluate SPF for the
                  envelope sender, which is at the relay's bounce domain.
    return_path = "bounces.<domain>" when verified and the custom return path is usable
                  (routed to the relay, SPF passes there for every sending address), else None.
    dns_trouble = some result is "unknown": keep the last good verdict.

The relay's own domains:

    check_relay(relay: RelaySetup, resolver) -> DomainReport   # spf, spf_include, mx, dkim,
                                                # dmarc, ptr, mta_sts, tls_rpt
    relay_records(relay, resolver) -> list[DnsRecord]
    relay_dns_warnings(stored_report_json) -> list[str]        # for a status view

What to publish:

    records_to_publish(domain, selector, public_key_der_b64, relay, resolver)
        -> list[DnsRecord]   # DKIM; DMARC at the shop's own domain if none; return path
    dkim_record(domain, selector, public_key_der_b64) -> DnsRecord
    spf_record(existing: str | None, include: str, domain: str = "@", final="~all") -> DnsRecord
    dmarc_suggestion(domain, rua: str | None = None, policy="none") -> DnsRecord
    return_path_record(domain, relay) -> DnsRecord             # bounces.<domain> CNAME
    shop_spf_note(domain) -> str              # why no SPF record is asked for at the domain
    DnsRecord(name, type, value, note, need).zone_line(ttl=3600) -> str
        need: "required" | "recommended" | "optional"

Other helpers:

    public_mailbox_reason(ascii_domain) -> str | None   # why it can never be verified
    likely_typo(domain) -> str | None         # "htmail.com" -> "hotmail.com"
    is_public_mailbox_domain(ascii_domain) -> bool
    to_ascii_domain(domain) -> str            # IDNA 2008 + UTS 46; raises InvalidDomain
    organizational_domain(ascii_domain) -> str  # RFC 7489 §3.2, public-suffix list

Individual checks (check_spf, check_dkim, check_dmarc, check_return_path, ...) live in
their modules and take an ASCII domain; each module's docstring lists its reason codes.
"""

import importlib
from typing import TYPE_CHECKING, Any

# The API is loaded on first use (PEP 562): the submission path needs only `likely_typo` and
# `to_ascii_domain`, and every relay worker should not carry pyspf and the checks in memory.
_WHERE = {
    "check_domain": "checks",
    "is_public_mailbox_domain": "mailbox_domains",
    "public_mailbox_reason": "mailbox_domains",
    "MemoryResolver": "memory",
    "InvalidDomain": "names",
    "organizational_domain": "names",
    "to_ascii_domain": "names",
    "DnsRecord": "records",
    "dkim_record": "records",
    "dmarc_suggestion": "records",
    "records_to_publish": "records",
    "return_path_record": "records",
    "shop_spf_note": "records",
    "spf_record": "records",
    "check_relay": "relay_check",
    "relay_dns_warnings": "relay_check",
    "relay_records": "relay_check",
    "RelaySetup": "relay_setup",
    "DnsError": "resolver",
    "DnsNotFound": "resolver",
    "DnsTemporary": "resolver",
    "Resolver": "resolver",
    "CheckResult": "results",
    "DomainReport": "results",
    "Status": "results",
    "to_json": "results",
    "likely_typo": "typos",
}

if TYPE_CHECKING:
    from dns_checks.checks import check_domain
    from dns_checks.mailbox_domains import is_public_mailbox_domain, public_mailbox_reason
    from dns_checks.memory import MemoryResolver
    from dns_checks.names import InvalidDomain, organizational_domain, to_ascii_domain
    from dns_checks.records import (
        DnsRecord,
        dkim_record,
        dmarc_suggestion,
        records_to_publish,
        return_path_record,
        shop_spf_note,
        spf_record,
    )
    from dns_checks.relay_check import check_relay, relay_dns_warnings, relay_records
    from dns_checks.relay_setup import RelaySetup
    from dns_checks.resolver import DnsError, DnsNotFound, DnsTemporary, Resolver
    from dns_checks.results import CheckResult, DomainReport, Status, to_json
    from dns_checks.typos import likely_typo


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dns_checks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dns_checks.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CheckResult",
    "DnsError",
    "DnsNotFound",
    "DnsRecord",
    "DnsTemporary",
    "DomainReport",
    "InvalidDomain",
    "MemoryResolver",
    "RelaySetup",
    "Resolver",
    "Status",
    "check_domain",
    "check_relay",
    "dkim_record",
    "dmarc_suggestion",
    "is_public_mailbox_domain",
    "likely_typo",
    "organizational_domain",
    "public_mailbox_reason",
    "records_to_publish",
    "relay_dns_warnings",
    "relay_records",
    "return_path_record",
    "shop_spf_note",
    "spf_record",
    "to_ascii_domain",
    "to_json",
]
