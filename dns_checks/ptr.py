"""Reverse DNS of the relay's sending addresses: forward-confirmed, naming the EHLO name.

Receivers look up the PTR record of the connecting address and then the A/AAAA records
of the name it gives; the two must agree ("forward-confirmed reverse DNS", RFC 8601
§3 "iprev", RFC 1912 §2.1), and the big mailbox providers reject or junk mail from an
address whose PTR is missing, or names something other than the HELO/EHLO name.
The PTR record lives in the reverse zone of whoever holds the address (the hosting
provider), not in the relay's own zone; the A/AAAA record is the operator's.

Reasons (detail["reason"]): "match" (ok); "no-sending-ips" (warning: nothing to check);
"bad-sending-ip", "mismatch" (errors); "dns-error" (unknown).
detail: hostname, results: one {"ip", "reverse_name", "ptr", "names_hostname",
"forward_confirmed"} per address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status

CHECK = "ptr"


def check_ptr(hostname: str, sending_ips: Sequence[str], resolver: Resolver) -> CheckResult:
    hostname = hostname.rstrip(".").lower()
    expected = "; ".join(
        f"PTR {_reverse(ip)} {hostname}; {_forward_type(ip)} {hostname} {ip}"
        for ip in sending_ips
        if _reverse(ip)
    )
    detail: dict = {"hostname": hostname, "results": []}
    if not sending_ips:
        action = (
            "Reverse DNS cannot be checked because the relay's sending addresses are not "
            "configured: list them in delivery.sending_ips."
        )
        return _result(Status.WARNING, "no-sending-ips", "nothing checked", "", action, detail)
    bad = [ip for ip in sending_ips if not _reverse(ip)]
    if bad:
        action = (
            f"delivery.sending_ips holds {', '.join(bad)}, which is not an IP address; "
            "correct the setting."
        )
        return _result(Status.ERROR, "bad-sending-ip", ", ".join(bad), expected, action, detail)
    try:
        detail["results"] = [_look(ip, hostname, resolver) for ip in sending_ips]
    except DnsTemporary as exc:
        action = f"DNS did not answer ({exc}); the check is repeated later."
        return _result(Status.UNKNOWN, "dns-error", "unknown (DNS error)", expected, action, detail)
    found = "; ".join(f"{r['ip']}: PTR {', '.join(r['ptr']) or 'none'}" for r in detail["results"])
    problems = [_problem(r, hostname) for r in detail["results"]]
    problems = [p for p in problems if p]
    if not problems:
        return _result(Status.OK, "match", found, expected, "", detail)
    action = "; ".join(problems) + "."
    return _result(Status.ERROR, "mismatch", found, expected, action, detail)


def _reverse(ip: str) -> str | None:
    """'127.0.0.1' -> '1.0.0.127.in-addr.arpa' (RFC 1035 §3.5, RFC 3596 §2.5)."""
    try:
        return ipaddress.ip_address(ip.strip()).reverse_pointer
    except ValueError:
        return None


def _forward_type(ip: str) -> str:
    return "AAAA" if ipaddress.ip_address(ip.strip()).version == 6 else "A"


def _same_ip(a: str, b: str) -> bool:
    return ipaddress.ip_address(a) == ipaddress.ip_address(b)


def _names(lookup: Callable[[str], list[str]], name: str) -> list[str]:
    try:
        return [value.rstrip(".").lower() for value in lookup(name)]
    except DnsNotFound:
        return []


def _look(ip: str, hostname: str, resolver: Resolver) -> dict:
    reverse = _reverse(ip)
    assert reverse is not None
    ptr = _names(resolver.ptr, reverse)
    forward = resolver.aaaa if _forward_type(ip) == "AAAA" else resolver.a
    addresses = _names(forward, hostname)
    return {
        "ip": ip.strip(),
        "reverse_name": reverse,
        "ptr": ptr,
        "names_hostname": hostname in ptr,
        "forward_confirmed": any(_same_ip(ip.strip(), a) for a in addresses),
    }


def _problem(result: dict, hostname: str) -> str | None:
    ip, reverse = result["ip"], result["reverse_name"]
    if not result["ptr"]:
        return (
            f"{ip} has no reverse DNS, so receivers distrust mail from it: ask whoever "
            f"runs the address (the hosting provider) to set PTR {reverse} {hostname}"
        )
    if not result["names_hostname"]:
        return (
            f"the reverse DNS of {ip} names {', '.join(result['ptr'])}, not the EHLO name "
            f"{hostname} (relay.hostname): have PTR {reverse} set to {hostname}, or set "
            "relay.hostname to the name it gives"
        )
    if not result["forward_confirmed"]:
        record = f"{_forward_type(ip)} {hostname} {ip}"
        return (
            f"{hostname} does not resolve back to {ip}, so the reverse DNS is not "
            f"forward-confirmed: publish {record}"
        )
    return None


def _result(
    status: Status, reason: str, found: str, expected: str, action: str, detail: dict
) -> CheckResult:
    return CheckResult(CHECK, status, found, expected, action, {"reason": reason, **detail})
