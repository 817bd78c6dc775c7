"""dns_checks: is a shop's domain set up so that the relay may send as it?

A leaf package: it imports nothing of ours (not `relay`, not `config`), only the
standard library, dnspython, pyspf, publicsuffixlist, idna and cryptography.
Nothing here prints or reads configuration; every function that needs DNS takes
a `Resolver`. Three layers, as in checkdmarc:

    query   resolver.py      Resolver protocol, DnspythonResolver, typed DNS errors
                             memory.py: MemoryResolver, an in-memory Resolver for tests
    parse   spf_parse.py, dkim_keys.py, dmarc_policy.py, taglist.py, names.py:
                             pure functions on record text and domain names
    check   spf.py (+ spf_eval.py: pyspf on our resolver), dkim.py, dmarc.py,
            checks.py (check_domain), records.py (what to publish), typos.py

Public API
----------
Resolvers (raise DnsNotFound for NXDOMAIN, DnsTemporary for SERVFAIL/REFUSED/timeout;
NODATA is an empty list):

    DnspythonResolver(nameservers: Sequence[str] | None = None, timeout: float = 3.0)
        nameservers as "127.0.0.1:5353", "[::1]:5353" or "192.0.2.53"; None/[] = system.
        timeout is the whole budget per lookup, retries included.
    MemoryResolver(records: {name: {"TXT": [...], "MX": [(10, "mx.x")], "A": [...],
                   "AAAA": [...], "CNAME": "target"}}, temporary=[names that SERVFAIL])

Checking a sender domain:

    check_domain(domain, selector, public_key_der_b64, sending_ips, spf_include,
                 resolver, *, from_domain=None) -> DomainReport
    to_json(report) -> dict

    DomainReport(domain, ascii_domain, results: list[CheckResult], verified, dns_trouble)
        .result("spf") -> CheckResult | None
    CheckResult(check, status, found, expected, action, detail)
        check: "spf" | "dkim" | "dmarc", or "domain" alone for a public mailbox domain
               (gmail.com, ...) or text that is no domain; then no DNS query is made.
        status: Status.OK | WARNING | ERROR | UNKNOWN (a StrEnum: == "ok" works).
        action: one sentence for the shop owner: what is wrong, why, what to publish;
                "" when ok. detail["reason"] is a stable kebab-case code for code.

    verified    = SPF passes for every sending IP AND the DKIM key in DNS is the
                  shop's key. No sending IPs configured -> SPF "warning" and NOT verified.
    dns_trouble = some result is "unknown": keep the last good verdict.

What to publish:

    records_to_publish(domain, selector, public_key_der_b64, spf_include, resolver)
        -> list[DnsRecord]   # DKIM, SPF merged into the existing one, DMARC if missing
    dkim_record(domain, selector, public_key_der_b64) -> DnsRecord
    spf_record(existing: str | None, include: str, domain: str = "@") -> DnsRecord
    dmarc_suggestion(domain, rua: str | None = None) -> DnsRecord
    DnsRecord(name, type, value, note).zone_line(ttl=3600) -> str   # for zone files

Other helpers:

    likely_typo(domain) -> str | None         # "htmail.com" -> "hotmail.com"
    is_public_mailbox_domain(ascii_domain) -> bool
    to_ascii_domain(domain) -> str            # IDNA 2008 + UTS 46; raises InvalidDomain
    organizational_domain(ascii_domain) -> str  # RFC 7489 §3.2, public-suffix list

Individual checks (check_spf, check_dkim, check_dmarc) live in their modules and
take an ASCII domain; each module's docstring lists its detail["reason"] codes.
"""

import importlib
from typing import TYPE_CHECKING, Any

# The API is loaded on first use (PEP 562): the submission path needs only `likely_typo` and
# `to_ascii_domain`, and every relay worker should not carry pyspf and the checks in memory.
_WHERE = {
    "check_domain": "checks",
    "is_public_mailbox_domain": "mailbox_domains",
    "MemoryResolver": "memory",
    "InvalidDomain": "names",
    "organizational_domain": "names",
    "to_ascii_domain": "names",
    "DnsRecord": "records",
    "dkim_record": "records",
    "dmarc_suggestion": "records",
    "records_to_publish": "records",
    "spf_record": "records",
    "DnsError": "resolver",
    "DnsNotFound": "resolver",
    "DnspythonResolver": "resolver",
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
    from dns_checks.mailbox_domains import is_public_mailbox_domain
    from dns_checks.memory import MemoryResolver
    from dns_checks.names import InvalidDomain, organizational_domain, to_ascii_domain
    from dns_checks.records import (
        DnsRecord,
        dkim_record,
        dmarc_suggestion,
        records_to_publish,
        spf_record,
    )
    from dns_checks.resolver import (
        DnsError,
        DnsNotFound,
        DnspythonResolver,
        DnsTemporary,
        Resolver,
    )
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
    "DnspythonResolver",
    "DomainReport",
    "InvalidDomain",
    "MemoryResolver",
    "Resolver",
    "Status",
    "check_domain",
    "dkim_record",
    "dmarc_suggestion",
    "is_public_mailbox_domain",
    "likely_typo",
    "organizational_domain",
    "records_to_publish",
    "spf_record",
    "to_ascii_domain",
    "to_json",
]
