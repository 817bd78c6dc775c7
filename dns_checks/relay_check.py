"""The relay's own domains: what its operator publishes once, and whether it is right.

`check_relay` returns a DomainReport, the same shape as a shop's check, one result each:

    spf          SPF at the bounce domain (the envelope senders' domain) passes for every
                 sending address (pyspf, RFC 7208)
    spf_include  the relay's SPF record (dns.spf_include) lists every sending address
    mx           the bounce domain's MX: where bounces and complaints come back
    dkim         the fallback key at <fallback.dkim_selector>._domainkey.<fallback.dkim_domain>
    dmarc        DMARC of the fallback domain, the From domain of unverified shops' mail
    ptr          reverse DNS of every sending address names relay.hostname, forward-confirmed
    mta_sts      optional, for the bounce domain (RFC 8461)
    tls_rpt      optional, for the bounce domain (RFC 8460)

verified: no result is an error or unknown (warnings and optional records do not count).
`relay_records` lists what to publish; `relay_dns_warnings` turns a stored result (the
JSON of `to_json`) into the lines a status view shows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dns_checks.bounce_mx import check_bounce_mx
from dns_checks.dkim import check_dkim
from dns_checks.dmarc import check_dmarc
from dns_checks.dmarc_policy import lookup_dmarc
from dns_checks.mta_sts import (
    check_mta_sts,
    check_tls_rpt,
    mta_sts_name,
    mta_sts_value,
    tls_rpt_name,
    tls_rpt_value,
)
from dns_checks.names import to_ascii_domain
from dns_checks.ptr import check_ptr
from dns_checks.records import DnsRecord, dkim_record, dmarc_suggestion, spf_record
from dns_checks.relay_setup import RelaySetup
from dns_checks.relay_spf import check_spf_include, include_record
from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, DomainReport, Status
from dns_checks.spf import check_spf
from dns_checks.spf_parse import merge_spf_records, spf_records

_BAD = (Status.ERROR, Status.UNKNOWN)


def check_relay(relay: RelaySetup, resolver: Resolver) -> DomainReport:
    """Raises ValueError when relay.fallback_public_key_b64 is missing or unreadable."""
    if not relay.fallback_public_key_b64:
        raise ValueError("the relay's fallback DKIM public key is needed for its own check")
    bounce, fallback = _ascii(relay.bounce_domain), _ascii(relay.fallback_domain)
    dkim = check_dkim(fallback, relay.fallback_selector, relay.fallback_public_key_b64, resolver)
    results = [
        _bounce_spf(bounce, relay, resolver),
        check_spf_include(relay.spf_include, relay.sending_ips, resolver),
        check_bounce_mx(bounce, relay.hostname, resolver),
        dkim,
        check_dmarc(fallback, fallback, bool(dkim.detail.get("key_matches")), resolver),
        check_ptr(relay.hostname, relay.sending_ips, resolver),
        check_mta_sts(bounce, resolver),
        check_tls_rpt(bounce, _report_address(relay), resolver),
    ]
    verified = not any(r.status in _BAD for r in results)
    dns_trouble = any(r.status == Status.UNKNOWN for r in results)
    return DomainReport(relay.hostname, _ascii(relay.hostname), results, verified, dns_trouble)


def _ascii(domain: str) -> str:
    return to_ascii_domain(domain)


def _report_address(relay: RelaySetup) -> str:
    return f"tlsrpt@{_ascii(relay.fallback_domain)}"


def _bounce_spf(bounce: str, relay: RelaySetup, resolver: Resolver) -> CheckResult:
    result = check_spf(bounce, relay.sending_ips, relay.spf_include, resolver, final="-all")
    failed = result.status == Status.ERROR and result.detail["reason"] != "several-records"
    if failed and result.detail.get("includes_relay"):
        # The include is right; the addresses are missing from the included record.
        action = (
            f"{bounce} includes {relay.spf_include}, which does not list the relay's "
            f"sending addresses (SPF {result.detail['reason']}); fix that record (spf_include)."
        )
        return replace(result, action=action)
    return result


def relay_records(relay: RelaySetup, resolver: Resolver) -> list[DnsRecord]:
    """What the operator publishes for the relay, ready to paste; SPF merged into what
    exists. PTR records are set by whoever holds the addresses (the hosting provider)."""
    bounce, fallback = _ascii(relay.bounce_domain), _ascii(relay.fallback_domain)
    records = [_bounce_spf_record(bounce, relay, resolver)]
    records += _include_records(relay, resolver)
    records.append(
        DnsRecord(
            bounce,
            "MX",
            f"10 {relay.hostname}",
            "Where bounces and complaints to the relay's envelope senders come back.",
        )
    )
    if relay.fallback_public_key_b64:
        dkim = dkim_record(fallback, relay.fallback_selector, relay.fallback_public_key_b64)
        note = "The relay signs the mail of shops that are not verified yet with this key."
        records.append(replace(dkim, note=note))
    records += _fallback_dmarc(fallback, resolver)
    records += _reverse_dns_records(relay)
    records += _transport_security_records(bounce, relay)
    return records


_UNREAD = (
    " The current record could not be read (DNS error): if there is one, merge this into it "
    "rather than publishing a second one."
)


def _existing_spf(name: str, resolver: Resolver) -> tuple[str | None, str]:
    """(the SPF record at `name`, several merged into one, or None; a note when unread)."""
    try:
        found = spf_records(resolver.txt(name))
    except DnsNotFound:
        found = []
    except DnsTemporary:
        return None, _UNREAD
    return (merge_spf_records(found) if found else None), ""


def _bounce_spf_record(bounce: str, relay: RelaySetup, resolver: Resolver) -> DnsRecord:
    existing, unread = _existing_spf(bounce, resolver)
    record = spf_record(existing, relay.spf_include, bounce, "-all")
    note = "SPF of the envelope senders' domain: receivers evaluate this one. " + record.note
    return replace(record, note=note + unread)


def _include_records(relay: RelaySetup, resolver: Resolver) -> list[DnsRecord]:
    if not relay.sending_ips or not all(_is_ip(ip) for ip in relay.sending_ips):
        return []  # the check says what to set in delivery.sending_ips
    existing, unread = _existing_spf(relay.spf_include, resolver)
    value = include_record(existing, relay.sending_ips)
    note = "The relay's sending addresses; the bounce domain and shops' return paths include it."
    return [DnsRecord(relay.spf_include, "TXT", value, note + unread)]


def _fallback_dmarc(fallback: str, resolver: Resolver) -> list[DnsRecord]:
    try:
        found = lookup_dmarc(fallback, resolver)
    except DnsTemporary:
        return [dmarc_suggestion(fallback)]
    return [] if found.records and not found.from_org_domain else [dmarc_suggestion(fallback)]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def _reverse_dns_records(relay: RelaySetup) -> list[DnsRecord]:
    records = []
    for ip in filter(_is_ip, relay.sending_ips):
        address = ipaddress.ip_address(ip.strip())
        note = (
            f"Reverse DNS of {address}: set by whoever holds the address (the hosting "
            "provider), and it must name the EHLO name (relay.hostname)."
        )
        records.append(DnsRecord(address.reverse_pointer, "PTR", relay.hostname, note))
        kind = "AAAA" if address.version == 6 else "A"
        note = "Forward-confirms the reverse DNS: the EHLO name resolves back to the address."
        records.append(DnsRecord(relay.hostname, kind, str(address), note))
    return records


def _transport_security_records(bounce: str, relay: RelaySetup) -> list[DnsRecord]:
    sts_note = (
        "Optional, MTA-STS (RFC 8461): senders of bounces must use TLS; also serve the "
        f"policy file at https://mta-sts.{bounce}/.well-known/mta-sts.txt and raise id= "
        "whenever it changes."
    )
    rpt_note = "Optional, TLS reporting (RFC 8460): use an address you read."
    value = tls_rpt_value(_report_address(relay))
    return [
        DnsRecord(mta_sts_name(bounce), "TXT", mta_sts_value(), sts_note, "optional"),
        DnsRecord(tls_rpt_name(bounce), "TXT", value, rpt_note, "optional"),
    ]


def relay_dns_warnings(stored: Mapping[str, Any]) -> list[str]:
    """The warning lines for a stored `check_relay` result (`to_json` of it): one per
    record that is wrong, each with what to publish; [] when everything is right."""
    lines = [
        f"relay DNS, {result['check']}: {result['action']}"
        for result in stored.get("results", [])
        if result.get("status") in (Status.ERROR, Status.WARNING)
    ]
    if stored.get("dns_trouble"):
        lines.append(
            "relay DNS could not be checked completely (DNS did not answer); "
            "run `relay dns check --relay` again"
        )
    return lines
