"""The relay's own SPF record (dns.spf_include): the one place that lists its sending addresses.

The bounce domain's SPF record includes it, and so does every shop's custom return path
(directly, or through the CNAME to the bounce domain), so one record changes when the
relay's addresses change. Evaluated by pyspf (RFC 7208 §4) for every sending address.

Reasons (detail["reason"]): "pass" (ok); "no-sending-ips" (warning); "bad-sending-ip",
"several-records" and the failing SPF result: "none", "fail", "softfail", "neutral",
"permerror" (errors); "temperror", "dns-error" (unknown).
detail: record_name, records, all_pass, results (one {"ip", "spf_result"} per address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status
from dns_checks.spf_eval import evaluate
from dns_checks.spf_parse import add_mechanisms, merge_spf_records, spf_records

CHECK = "spf_include"


def include_record(existing: str | None, sending_ips: Sequence[str]) -> str:
    """The record at dns.spf_include: the existing one with the missing addresses added
    before its all, or "v=spf1 ip4:... ip6:... -all" (only the relay sends with it)."""
    mechanisms = [_mechanism(ip) for ip in sending_ips]
    if existing is None:
        return " ".join(["v=spf1", *mechanisms, "-all"])
    return add_mechanisms(existing, mechanisms)


def _mechanism(ip: str) -> str:
    address = ipaddress.ip_address(ip.strip())
    return f"ip{address.version}:{address}"


def check_spf_include(include: str, sending_ips: Sequence[str], resolver: Resolver) -> CheckResult:
    detail: dict = {"record_name": include, "records": [], "all_pass": False, "results": []}
    try:
        ips = [str(ipaddress.ip_address(ip.strip())) for ip in sending_ips]
    except ValueError:
        action = "delivery.sending_ips holds an entry that is not an IP address; correct it."
        return _result(Status.ERROR, "bad-sending-ip", "", "", action, detail)
    try:
        records = spf_records(resolver.txt(include))
    except DnsNotFound:
        records = []
    except DnsTemporary as exc:
        action = f"DNS did not answer for {include} ({exc}); the check is repeated later."
        return _result(Status.UNKNOWN, "dns-error", "unknown (DNS error)", "", action, detail)
    detail["records"] = records
    found = " | ".join(records) or "no record"
    if not ips:
        action = (
            f"The addresses the relay sends from are not configured, so nothing can say "
            f"whether {include} lists them: set delivery.sending_ips."
        )
        return _result(Status.WARNING, "no-sending-ips", found, "", action, detail)
    expected = include_record(merge_spf_records(records) if records else None, ips)
    if len(records) > 1:
        action = (
            f"{include} has {len(records)} SPF records, so receivers treat it as broken "
            f"(permerror, RFC 7208 §4.5); publish exactly one: {expected}"
        )
        return _result(Status.ERROR, "several-records", found, expected, action, detail)
    outcomes = [evaluate(ip, include, resolver) for ip in ips]
    detail["results"] = [{"ip": o.ip, "spf_result": o.result} for o in outcomes]
    failing = [o for o in outcomes if o.result != "pass"]
    if not failing:
        return _result(Status.OK, "pass", found, records[0], "", {**detail, "all_pass": True})
    first = failing[0].result
    if first == "temperror":
        action = f"SPF for {include} met a DNS error ({failing[0].problem}); it is repeated later."
        return _result(Status.UNKNOWN, "temperror", found, expected, action, detail)
    listed = ", ".join(o.ip for o in failing)
    action = (
        f"The relay's SPF record at {include} does not authorise {listed} (SPF {first}), "
        "and the bounce domain and every shop's return path rely on it; publish this TXT "
        f"record at {include}: {expected}"
    )
    return _result(Status.ERROR, first, found, expected, action, detail)


def _result(
    status: Status, reason: str, found: str, expected: str, action: str, detail: dict
) -> CheckResult:
    return CheckResult(CHECK, status, found, expected, action, {"reason": reason, **detail})
