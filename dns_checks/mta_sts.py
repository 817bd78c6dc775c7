"""MTA-STS (RFC 8461) and SMTP TLS reporting (RFC 8460) for a domain that receives mail.

Both are optional: they ask senders (here: servers sending bounces and complaints to the
relay's bounce domain) to insist on TLS, and to report when TLS fails. Only the DNS side
is checked; MTA-STS also needs its policy file at
https://mta-sts.<domain>/.well-known/mta-sts.txt, which this leaf does not fetch.

"mta_sts" reasons: "published" (ok), "not-published" (optional), "several-records",
"syntax", "no-policy-host" (warnings), "dns-error" (unknown).
"tls_rpt" reasons: "published" (ok), "not-published" (optional), "several-records",
"syntax" (warnings), "dns-error" (unknown).
"""

from __future__ import annotations

import re

from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status
from dns_checks.taglist import TagListError, parse_tag_list

# RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT).
_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def mta_sts_name(domain: str) -> str:
    return f"_mta-sts.{domain}"


def tls_rpt_name(domain: str) -> str:
    return f"_smtp._tls.{domain}"


def mta_sts_value() -> str:
    """A starting record; id= must change whenever the policy file changes (§3.1)."""
    return "v=STSv1; id=1"


def tls_rpt_value(report_address: str) -> str:
    return f"v=TLSRPTv1; rua=mailto:{report_address}"


def check_mta_sts(domain: str, resolver: Resolver) -> CheckResult:
    name = mta_sts_name(domain)
    check = _Optional("mta_sts", name, mta_sts_value(), "v=STSv1")
    try:
        records = check.records(resolver)
        policy_host = _exists(f"mta-sts.{domain}", resolver) if len(records) == 1 else True
    except DnsTemporary as exc:
        return check.unknown(str(exc))
    what = (
        f"MTA-STS asks servers that send mail to {domain} to use TLS with a valid "
        "certificate (RFC 8461)"
    )
    if not records:
        return check.not_published(what)
    if len(records) > 1:
        return check.warning(records, "several-records", "senders ignore them all (§3.1)")
    problem = _sts_problem(records[0])
    if problem:
        return check.warning(records, "syntax", f"{problem}, so senders ignore it (§3.1)")
    if not policy_host:
        why = (
            f"mta-sts.{domain} has no address, so senders cannot fetch the policy file "
            f"https://mta-sts.{domain}/.well-known/mta-sts.txt (§3.3); publish an A record "
            f"for mta-sts.{domain} and serve the policy there"
        )
        return check.warning(records, "no-policy-host", why, fix=False)
    return check.ok(records)


def check_tls_rpt(domain: str, report_address: str, resolver: Resolver) -> CheckResult:
    name = tls_rpt_name(domain)
    check = _Optional("tls_rpt", name, tls_rpt_value(report_address), "v=TLSRPTv1")
    try:
        records = check.records(resolver)
    except DnsTemporary as exc:
        return check.unknown(str(exc))
    if not records:
        what = (
            f"TLS reporting asks servers that send mail to {domain} to report TLS failures "
            "to you (RFC 8460)"
        )
        return check.not_published(what)
    if len(records) > 1:
        return check.warning(records, "several-records", "senders ignore them all (§3)")
    problem = _rpt_problem(records[0])
    if problem:
        return check.warning(records, "syntax", f"{problem}, so senders ignore it (§3)")
    return check.ok(records)


def _exists(name: str, resolver: Resolver) -> bool:
    try:
        return bool(resolver.a(name) or resolver.aaaa(name))
    except DnsNotFound:
        return False


def _tags(record: str) -> dict[str, str] | None:
    try:
        return dict(parse_tag_list(record))
    except TagListError:
        return None


def _sts_problem(record: str) -> str | None:
    tags = _tags(record)
    if tags is None or tags.get("v") != "STSv1":
        return "it is not a valid tag list starting with v=STSv1"
    if not _STS_ID.fullmatch(tags.get("id", "")):
        return "its id= is missing or not 1 to 32 letters and digits"
    return None


def _rpt_problem(record: str) -> str | None:
    tags = _tags(record)
    if tags is None or tags.get("v") != "TLSRPTv1":
        return "it is not a valid tag list starting with v=TLSRPTv1"
    uris = [uri.strip() for uri in tags.get("rua", "").split(",") if uri.strip()]
    if not uris or not all(uri.startswith(("mailto:", "https:")) for uri in uris):
        return "its rua= is missing or not a list of mailto: or https: addresses"
    return None


class _Optional:
    """The result sentences of an optional TXT record at `name`."""

    def __init__(self, check: str, name: str, expected: str, version: str) -> None:
        self.check, self.name, self.expected, self.version = check, name, expected, version

    def records(self, resolver: Resolver) -> list[str]:
        """The TXT records that start with the version tag (others are discarded)."""
        try:
            texts = resolver.txt(self.name)
        except DnsNotFound:
            return []
        prefix = self.version.lower()
        return [t.strip() for t in texts if t.strip().lower().startswith(prefix)]

    def _result(self, status: Status, found: str, reason: str, action: str) -> CheckResult:
        detail = {"reason": reason, "record_name": self.name}
        return CheckResult(self.check, status, found, self.expected, action, detail)

    def not_published(self, what: str) -> CheckResult:
        action = f"Optional: {what}; to set it up, publish this TXT record at {self.name}: "
        return self._result(Status.OPTIONAL, "no record", "not-published", action + self.expected)

    def warning(self, records: list[str], reason: str, why: str, fix: bool = True) -> CheckResult:
        found = " | ".join(records)
        action = f"The record at {self.name} is not usable: {why}"
        if fix:
            action += f"; publish exactly one TXT record there, for example: {self.expected}"
        return self._result(Status.WARNING, found, reason, action + ".")

    def unknown(self, problem: str) -> CheckResult:
        action = f"DNS did not answer for {self.name} ({problem}); the check is repeated later."
        return self._result(Status.UNKNOWN, "unknown (DNS error)", "dns-error", action)

    def ok(self, records: list[str]) -> CheckResult:
        return self._result(Status.OK, records[0], "published", "")
