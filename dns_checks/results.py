"""What a check returns: typed, with the sentence a shop owner (or the relay's operator) reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A StrEnum, so `result.status == "ok"` and JSON output are plain strings."""

    OK = "ok"
    WARNING = "warning"  # works, but something should change (no DMARC, ...)
    ERROR = "error"  # the shop must change its DNS (or its sender domain)
    UNKNOWN = "unknown"  # DNS trouble (timeout, SERVFAIL): nothing concluded
    OPTIONAL = "optional"  # an optional record that is not published: nothing is wrong


@dataclass(frozen=True)
class CheckResult:
    """One check, Postal style: what was found, what is expected, what to do.

    check:    "dkim", "dmarc", "return_path", "spf" or "domain" for a shop; the relay's
              own check adds "spf_include", "mx", "ptr", "mta_sts", "tls_rpt".
    status:   a Status.
    found:    what is published now: the verbatim record(s), or "no record".
    expected: what should be there, ready to paste.
    action:   one sentence: what is wrong and why, and what to change (for an optional
              record: what it gives and what to publish); "" when status is ok.
    detail:   machine-readable facts. Always has "reason" (a short kebab-case code
              such as "softfail", "wrong-key", "no-record") so that callers can
              branch without parsing sentences; plus per-check facts (see each
              check's docstring).
    """

    check: str
    status: Status
    found: str
    expected: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainReport:
    """All checks for one sender domain (or, from `check_relay`, for the relay's own names).

    verified:    a shop's domain: the DKIM key in DNS is the shop's key and d= (the shop's
                 domain) aligns with the From domain; only then may the relay sign as it.
                 The relay's own names: every required record is right.
    dns_trouble: some check could not be completed (status unknown); the caller
                 should keep its last good verdict instead of using `verified`.
    return_path: the custom return path the relay may use as the envelope sender's
                 domain ("bounces.<domain>"), or None: verified, routed to the relay,
                 and SPF there passes for every sending address.
    """

    domain: str
    ascii_domain: str
    results: list[CheckResult]
    verified: bool
    dns_trouble: bool
    return_path: str | None = None

    def result(self, check: str) -> CheckResult | None:
        """The result of one check by name, or None when it was not run."""
        return next((r for r in self.results if r.check == check), None)


def to_json(report: DomainReport) -> dict[str, Any]:
    """A JSON-ready dict (plain str, bool, list, dict) for `relay dns check --json`."""
    data = dataclasses.asdict(report)
    for result in data["results"]:
        result["status"] = str(result["status"])
    return data
