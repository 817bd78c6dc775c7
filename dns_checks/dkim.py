"""The DKIM check: is the shop's key published under its selector (RFC 6376 §3.6.2)?

Query: the CNAME (if any) and the TXT records at <selector>._domainkey.<domain>.
Parse: dns_checks.dkim_keys. Check: compare keys, not strings.

Reasons (detail["reason"]): "match" (ok), "testing" (warning: t=y, RFC 6376
§3.6.1 lets verifiers treat the signature as absent), "no-record", "several-records",
"syntax", "revoked", "wrong-key" (errors), "dns-error" (unknown).
detail also has: record_name, cname (the alias target or None), records, key_matches.
"""

from __future__ import annotations

from dns_checks.dkim_keys import (
    DkimSyntaxError,
    load_public_key,
    parse_dkim_record,
    same_key,
)
from dns_checks.records import dkim_record
from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status

CHECK = "dkim"


def check_dkim(
    ascii_domain: str, selector: str, public_key_der_b64: str, resolver: Resolver
) -> CheckResult:
    """Raises ValueError when the shop's own key (from the relay) is unreadable."""
    expected = dkim_record(ascii_domain, selector, public_key_der_b64)
    name = expected.name
    shop_key = load_public_key(public_key_der_b64)
    try:
        cname, records = _query(name, resolver)
    except DnsTemporary as exc:
        action = f"DNS did not answer for {name} ({exc}); the check is repeated later."
        detail = {"reason": "dns-error", "record_name": name, "problem": str(exc)}
        return CheckResult(
            CHECK, Status.UNKNOWN, "unknown (DNS error)", expected.value, action, detail
        )
    judge = _Judge(name, cname, records, expected.value)
    if not records:
        return judge.no_record(ascii_domain)
    if len(records) > 1:
        return judge.several()
    try:
        parsed = parse_dkim_record(records[0])
        published_key = None if parsed.revoked else load_public_key(parsed.public_key_b64)
    except DkimSyntaxError as exc:
        return judge.syntax(str(exc))
    if published_key is None:
        return judge.revoked()
    if not same_key(published_key, shop_key):
        return judge.wrong_key()
    return judge.testing() if parsed.testing else judge.match()


def _query(name: str, resolver: Resolver) -> tuple[str | None, list[str]]:
    """(CNAME target or None, TXT records), following the alias. Raises DnsTemporary."""
    try:
        cname = resolver.cname(name)
    except DnsNotFound:
        return None, []
    try:
        return cname, resolver.txt(name)
    except DnsNotFound:  # a CNAME pointing at a name that does not exist
        return cname, []


class _Judge:
    """Builds the CheckResult for one outcome; holds what every sentence needs."""

    def __init__(self, name: str, cname: str | None, records: list[str], expected: str) -> None:
        self.name, self.cname, self.records, self.expected = name, cname, records, expected

    def _found(self) -> str:
        published = " | ".join(self.records) if self.records else "no record"
        return f"CNAME {self.cname}: {published}" if self.cname else published

    def _fix(self) -> str:
        if self.cname:
            return (
                f"remove the CNAME to {self.cname} and publish this TXT record at "
                f"{self.name} instead: {self.expected}"
            )
        return f"publish this TXT record at {self.name} instead: {self.expected}"

    def _result(self, status: Status, reason: str, action: str) -> CheckResult:
        detail = {
            "reason": reason,
            "record_name": self.name,
            "cname": self.cname,
            "records": list(self.records),
            "key_matches": reason in ("match", "testing"),
        }
        return CheckResult(CHECK, status, self._found(), self.expected, action, detail)

    def no_record(self, domain: str) -> CheckResult:
        where = (
            f"{self.name} (a CNAME to {self.cname}, which has none)" if self.cname else self.name
        )
        action = (
            f"There is no DKIM key at {where}, so the relay cannot sign mail as {domain}; "
            f"publish this TXT record at {self.name}: {self.expected}"
        )
        return self._result(Status.ERROR, "no-record", action)

    def several(self) -> CheckResult:
        action = (
            f"There are {len(self.records)} TXT records at {self.name}, so receivers may pick "
            f"the wrong one (RFC 6376 §3.6.2.2); delete them all and {self._fix()}"
        )
        return self._result(Status.ERROR, "several-records", action)

    def syntax(self, why: str) -> CheckResult:
        action = (
            f"The record at {self.name} is not a valid DKIM key record ({why}, RFC 6376 "
            f"§3.6.1), so receivers cannot check the relay's signatures; {self._fix()}"
        )
        return self._result(Status.ERROR, "syntax", action)

    def revoked(self) -> CheckResult:
        action = (
            f"The DKIM key at {self.name} is revoked (empty p=, RFC 6376 §3.6.1), so "
            f"receivers reject every signature made with it; {self._fix()}"
        )
        return self._result(Status.ERROR, "revoked", action)

    def wrong_key(self) -> CheckResult:
        action = (
            f"The DKIM key at {self.name} is a different key from the one the relay signs "
            f"with, so the relay's signatures would fail; {self._fix()}"
        )
        return self._result(Status.ERROR, "wrong-key", action)

    def testing(self) -> CheckResult:
        action = (
            f"The DKIM key at {self.name} is right but marked as testing (t=y), so receivers "
            f"may ignore the relay's signatures (RFC 6376 §3.6.1); {self._fix()}"
        )
        return self._result(Status.WARNING, "testing", action)

    def match(self) -> CheckResult:
        return self._result(Status.OK, "match", "")
