"""The MX of the relay's bounce domain: where bounces and complaints come back.

Every envelope sender of the relay is b-<token>@<bounce domain>; a server that bounces a
message sends the DSN there, to the domain's MX hosts (RFC 5321 §5.1), and so do the
shops' custom return paths that are aliases of it.

Reasons (detail["reason"]): "ok"; "implicit-mx" (warning: only an A/AAAA record, which
senders use as the implicit MX, RFC 5321 §5.1); "no-mx", "null-mx", "host-without-address"
(errors); "dns-error" (unknown). detail: record_name, mx, hosts_without_address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status

CHECK = "mx"


def check_bounce_mx(bounce_domain: str, hostname: str, resolver: Resolver) -> CheckResult:
    expected = f"10 {hostname}"
    detail: dict = {"record_name": bounce_domain, "mx": [], "hosts_without_address": []}
    publish = f"publish this MX record at {bounce_domain}: {expected}"
    try:
        mx = sorted(_or_empty(resolver.mx, bounce_domain))
        detail["mx"] = mx
        if not mx:
            implicit = bool(_addresses(bounce_domain, resolver))
        else:
            lonely = [host for _, host in mx if host != "." and not _addresses(host, resolver)]
            detail["hosts_without_address"] = lonely
    except DnsTemporary as exc:
        action = f"DNS did not answer for {bounce_domain} ({exc}); the check is repeated later."
        return _result(Status.UNKNOWN, "dns-error", "unknown (DNS error)", expected, action, detail)
    found = " | ".join(f"MX {pref} {host}" for pref, host in mx) or "no MX record"
    if not mx and implicit:
        action = (
            f"{bounce_domain} has no MX record; senders fall back to its address (implicit "
            f"MX, RFC 5321 §5.1), which works but is easy to break; {publish}"
        )
        return _result(Status.WARNING, "implicit-mx", found, expected, action, detail)
    if not mx:
        action = f"{bounce_domain} has no MX record, so bounces and complaints are lost; {publish}"
        return _result(Status.ERROR, "no-mx", found, expected, action, detail)
    if [host for _, host in mx] == ["."]:
        action = (
            f"{bounce_domain} publishes a null MX (RFC 7505): it refuses every bounce; "
            f"replace it: {publish}"
        )
        return _result(Status.ERROR, "null-mx", found, expected, action, detail)
    if detail["hosts_without_address"]:
        hosts = ", ".join(detail["hosts_without_address"])
        action = (
            f"the MX host {hosts} of {bounce_domain} has no A or AAAA record, so bounces "
            f"cannot reach it; publish its address, or {publish}"
        )
        return _result(Status.ERROR, "host-without-address", found, expected, action, detail)
    return _result(Status.OK, "ok", found, expected, "", detail)


def _or_empty(lookup: Callable[[str], list[Any]], name: str) -> list[Any]:
    try:
        return list(lookup(name))
    except DnsNotFound:
        return []


def _addresses(name: str, resolver: Resolver) -> list[str]:
    return _or_empty(resolver.a, name) + _or_empty(resolver.aaaa, name)


def _result(
    status: Status, reason: str, found: str, expected: str, action: str, detail: dict
) -> CheckResult:
    return CheckResult(CHECK, status, found, expected, action, {"reason": reason, **detail})
