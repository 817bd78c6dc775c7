"""The custom return path: bounces.<shop domain> routed to the relay, with SPF for the relay.

Without it the envelope sender (RFC 5321 MAIL FROM) of a shop's mail is at the relay's
bounce domain: SPF passes for the relay's domain and never aligns with the shop's From
(RFC 7489 §3.1.2), so DMARC passes on DKIM alone. With `bounces.<domain>` routed to the
relay and SPF there authorising the relay's sending addresses, SPF passes for a name
under the shop's own organizational domain: aligned under relaxed aspf, so DMARC passes
on SPF as well as on DKIM. Nothing breaks without it; it is optional.

Two ways to publish it (either one):
- CNAME bounces.<domain> -> the relay's bounce domain: MX and SPF come from the relay's
  own records (MX and TXT lookups follow the alias);
- MX bounces.<domain> -> the relay's bounce host, and a TXT record there:
  "v=spf1 include:<dns.spf_include> -all".

Two results:
- "return_path": does mail to bounces.<domain> reach the relay? reasons "cname", "mx"
  (ok); "not-published" (optional); "wrong-cname", "relay-has-no-mx", "no-mx", "null-mx",
  "wrong-mx", "strict-spf-alignment" (warnings: the relay keeps its own return path
  until fixed); "dns-error" (unknown). detail: record_name, cname, mx, relay_hosts,
  reaches_relay, spf_aligned, usable (routed to the relay and SPF passes).
- "spf": SPF at bounces.<domain> evaluated with pyspf for every sending address
  (dns_checks.spf, its reasons and detail); a failure is a warning here, "not-published"
  (optional) when bounces.<domain> does not exist.
"""

from __future__ import annotations

from dataclasses import replace

from dns_checks.records import return_path_name
from dns_checks.relay_setup import RelaySetup
from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status
from dns_checks.spf import check_spf
from dns_checks.spf_parse import new_spf_record

CHECK = "return_path"


def check_return_path(
    ascii_domain: str, relay: RelaySetup, resolver: Resolver, *, aspf: str = "r"
) -> tuple[CheckResult, CheckResult]:
    """(return_path, spf) for bounces.<ascii_domain>; aspf: the DMARC policy's aspf=."""
    route = _Route(ascii_domain, relay)
    name = route.name
    try:
        cname = resolver.cname(name)
    except DnsNotFound:
        return route.not_published(), _spf_not_published(name, relay)
    except DnsTemporary as exc:
        return route.unknown(str(exc)), _spf_unknown(name, relay, str(exc))
    try:
        mx = _mx(name, resolver)  # through the alias, as a sender of bounces would look
        relay_hosts = _relay_hosts(relay, resolver)
    except DnsTemporary as exc:
        return route.unknown(str(exc)), _spf_unknown(name, relay, str(exc))
    routed = route.judge(cname, mx, relay_hosts, aspf)
    spf = _spf(name, cname, relay, resolver)
    usable = bool(routed.detail["reaches_relay"] and spf.detail.get("all_pass"))
    return replace(routed, detail={**routed.detail, "usable": usable}), spf


def _mx(name: str, resolver: Resolver) -> list[tuple[int, str]]:
    """The MX records of `name`; [] for an alias to a name that does not exist."""
    try:
        return resolver.mx(name)
    except DnsNotFound:
        return []


def _relay_hosts(relay: RelaySetup, resolver: Resolver) -> list[str]:
    """Where the relay takes bounces: its bounce domain's MX hosts, and its own name."""
    hosts = [host.lower() for _, host in _mx(relay.bounce_domain, resolver) if host != "."]
    return sorted({*hosts, relay.hostname.lower()})


class _Route:
    """Builds the "return_path" result; holds what every sentence needs."""

    def __init__(self, ascii_domain: str, relay: RelaySetup) -> None:
        self.name, self.relay = return_path_name(ascii_domain), relay
        self.expected = f"CNAME {relay.bounce_domain}"

    def _result(
        self, status: Status, found: str, reason: str, action: str, **facts: object
    ) -> CheckResult:
        detail = {
            "reason": reason,
            "record_name": self.name,
            "reaches_relay": reason in ("cname", "mx", "strict-spf-alignment"),
            "usable": False,
            **facts,
        }
        return CheckResult(CHECK, status, found, self.expected, action, detail)

    def not_published(self) -> CheckResult:
        spf = new_spf_record(self.relay.spf_include, "-all")
        action = (
            f"Optional: with a custom return path the relay can use {self.name} as the "
            "envelope sender of your mail, so SPF passes aligned with your From domain and "
            "DMARC passes on SPF as well as on DKIM; to set it up, publish at "
            f'{self.name}: {self.expected} (or MX 10 {self.relay.hostname} and TXT "{spf}")'
        )
        return self._result(Status.OPTIONAL, "no record", "not-published", action)

    def unknown(self, problem: str) -> CheckResult:
        action = f"DNS did not answer for {self.name} ({problem}); the check is repeated later."
        return self._result(Status.UNKNOWN, "unknown (DNS error)", "dns-error", action)

    def judge(
        self, cname: str | None, mx: list[tuple[int, str]], hosts: list[str], aspf: str
    ) -> CheckResult:
        facts = {"cname": cname, "mx": sorted(mx), "relay_hosts": hosts}
        found = _describe(cname, mx)
        fix = f"publish at {self.name}: {self.expected}"
        if cname is not None and cname.lower() != self.relay.bounce_domain.lower():
            action = (
                f"{self.name} is an alias of {cname}, not of the relay's bounce domain "
                f"{self.relay.bounce_domain}, so bounces would not reach the relay; {fix}"
            )
            return self._result(Status.WARNING, found, "wrong-cname", action, **facts)
        if cname is not None and not mx:
            action = (
                f"{self.name} is an alias of the relay's bounce domain, which publishes no MX "
                "record, so bounces cannot reach the relay; nothing to change on your side: "
                "tell the relay's operator (`relay dns check --relay` names the record)."
            )
            return self._result(Status.WARNING, found, "relay-has-no-mx", action, **facts)
        if cname is None:
            problem = self._mx_problem(mx, hosts)
            if problem:
                reason, why = problem
                action = f"{why}, so bounces would not reach the relay; {fix}"
                return self._result(Status.WARNING, found, reason, action, **facts)
        reason = "cname" if cname is not None else "mx"
        if aspf == "s":
            action = (
                f"Mail to {self.name} reaches the relay, but your DMARC record asks for strict "
                f"SPF alignment (aspf=s), so SPF for {self.name} never aligns with your From "
                "domain and the return path adds nothing to DMARC; remove aspf=s from it."
            )
            return self._result(
                Status.WARNING, found, "strict-spf-alignment", action, spf_aligned=False, **facts
            )
        return self._result(Status.OK, found, reason, "", spf_aligned=True, **facts)

    def _mx_problem(self, mx: list[tuple[int, str]], hosts: list[str]) -> tuple[str, str] | None:
        exchanges = [host.lower() for _, host in mx]
        if not exchanges:
            return "no-mx", f"{self.name} exists but has neither a CNAME nor an MX record"
        if exchanges == ["."]:
            return "null-mx", f"{self.name} publishes a null MX: it takes no mail (RFC 7505)"
        if not set(exchanges) & set(hosts):
            listed = ", ".join(sorted(set(exchanges)))
            return "wrong-mx", f"the MX of {self.name} is {listed}, not the relay"
        return None


def _describe(cname: str | None, mx: list[tuple[int, str]]) -> str:
    parts = [f"CNAME {cname}"] if cname else []
    parts += [f"MX {pref} {host}" for pref, host in sorted(mx)]
    return " | ".join(parts) or "no CNAME or MX record"


def _spf(name: str, cname: str | None, relay: RelaySetup, resolver: Resolver) -> CheckResult:
    """SPF at the return path, judged as a receiver would; failures are warnings (optional)."""
    result = check_spf(name, relay.sending_ips, relay.spf_include, resolver, final="-all")
    if result.status != Status.ERROR:
        return result
    action = result.action
    if cname is not None and result.detail["reason"] not in ("bad-sending-ip",):
        action = (
            f"{name} is an alias of {cname}, whose SPF record does not pass for the relay's "
            f"servers ({result.detail['reason']}); nothing to change on your side: tell the "
            "relay's operator (`relay dns check --relay` names the record)."
        )
    return replace(result, status=Status.WARNING, action=action)


def _spf_not_published(name: str, relay: RelaySetup) -> CheckResult:
    expected = new_spf_record(relay.spf_include, "-all")
    action = (
        f"Only needed for the custom return path (above): with the CNAME, {name} takes the "
        f"relay's SPF record; with an MX instead, publish this TXT record at {name}: {expected}"
    )
    detail = {"reason": "not-published", "record_name": name, "all_pass": False, "results": []}
    return CheckResult("spf", Status.OPTIONAL, "no record", expected, action, detail)


def _spf_unknown(name: str, relay: RelaySetup, problem: str) -> CheckResult:
    expected = new_spf_record(relay.spf_include, "-all")
    action = f"DNS did not answer for {name} ({problem}); the check is repeated later."
    detail = {"reason": "dns-error", "record_name": name, "all_pass": False, "problem": problem}
    return CheckResult("spf", Status.UNKNOWN, "unknown (DNS error)", expected, action, detail)
