"""The DMARC check: which policy applies to mail From the shop's domain, and does
the relay's DKIM signature (d= the shop's domain) align with it?

The relay needs no DMARC record of its own (SPEC: Sender identity). SPF aligns for
relay mail only with the custom return path (dns_checks.return_path): otherwise the
envelope sender is at the relay's bounce domain, so DMARC passes through DKIM
alignment alone (RFC 7489 §3.1, §4.2). That is why adkim= decides here; aspf= is
reported for the return path.

Where the policy comes from (RFC 7489 §6.6.3): the From domain's own record, else
its organizational domain's. A record at the organizational domain governs every
subdomain without one of its own (with sp= when given), so the result says what it
asks for, and a missing record is recommended at the shop's own sending domain,
never at the organizational domain, which the shop may not control.

Reasons (detail["reason"]):
- "ok" (ok);
- "no-record", "several-records", "syntax", "not-aligned" with p=none (warnings):
  no policy applies or it is ignored, but nothing is rejected;
- "not-aligned" with quarantine/reject (error): the relay's mail would fail DMARC;
- "reject-unverified" (error): p=reject while the shop's DKIM key is not published;
- "dns-error" (unknown).
detail also has: record_name, org_domain, from_org_domain (the record found is the
organizational domain's), policy, effective_policy, subdomain_policy, adkim, aspf,
dkim_domain, aligned, tolerated (problems receivers work around).
"""

from __future__ import annotations

from dns_checks.dmarc_policy import (
    DmarcLookup,
    DmarcPolicy,
    DmarcSyntaxError,
    dkim_aligned,
    lookup_dmarc,
    parse_dmarc_record,
)
from dns_checks.records import dmarc_suggestion
from dns_checks.resolver import DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status

CHECK = "dmarc"


def check_dmarc(
    from_domain: str,
    dkim_domain: str,
    key_published: bool,
    resolver: Resolver,
    rua: str | None = None,
) -> CheckResult:
    """from_domain: the ASCII domain of the From address; dkim_domain: the d= the relay
    signs with once verified; key_published: the DKIM verdict (computed first)."""
    suggestion = dmarc_suggestion(from_domain, rua)
    try:
        lookup = lookup_dmarc(from_domain, resolver)
    except DnsTemporary as exc:
        action = (
            f"DNS did not answer for _dmarc.{from_domain} ({exc}); the check is repeated later."
        )
        detail = {
            "reason": "dns-error",
            "record_name": f"_dmarc.{from_domain}",
            "problem": str(exc),
        }
        return CheckResult(
            CHECK, Status.UNKNOWN, "unknown (DNS error)", suggestion.value, action, detail
        )
    base = {
        "record_name": lookup.record_name,
        "org_domain": lookup.org_domain,
        "from_org_domain": lookup.from_org_domain,
        "dkim_domain": dkim_domain,
    }
    found = " | ".join(lookup.records) or "no record"
    if len(lookup.records) != 1:
        return _missing(lookup, found, suggestion.name, suggestion.value, base)
    try:
        policy = parse_dmarc_record(lookup.records[0])
    except DmarcSyntaxError as exc:
        fix = _own_record_fix(lookup, suggestion.name, suggestion.value)
        action = (
            f"The record at {lookup.record_name} is not a valid DMARC record ({exc}), so "
            f"receivers ignore it (RFC 7489 §6.6.3); {fix}"
        )
        detail = {"reason": "syntax", **base}
        return CheckResult(CHECK, Status.WARNING, found, suggestion.value, action, detail)
    return _judge_policy(lookup, policy, dkim_domain, key_published, base)


def _own_record_fix(lookup: DmarcLookup, name: str, value: str) -> str:
    if lookup.from_org_domain:
        return f"publish a record of your own at {name}: {value}"
    return f"replace it with: {value}"


def _missing(lookup: DmarcLookup, found: str, name: str, value: str, base: dict) -> CheckResult:
    if lookup.records:
        where = (
            f"{lookup.record_name}, the organizational domain's, which governs {lookup.from_domain}"
            if lookup.from_org_domain
            else lookup.record_name
        )
        keep = (
            f"publish a record of your own at {name}: {value}"
            if lookup.from_org_domain
            else f"keep exactly one, for example: {value}"
        )
        action = (
            f"There are {len(lookup.records)} DMARC records at {where}, so receivers ignore "
            f"all of them (RFC 7489 §6.6.3); {keep}"
        )
        reason = "several-records"
    else:
        action = (
            f"{lookup.from_domain} has no DMARC record, so receivers apply no policy and "
            f"send you no reports; we recommend publishing this TXT record at {name}: {value}"
        )
        reason = "no-record"
        # Nothing applies anywhere: the record that matters is the one to publish.
        base = {**base, "record_name": name, "from_org_domain": False}
    return CheckResult(CHECK, Status.WARNING, found, value, action, {"reason": reason, **base})


def _found(lookup: DmarcLookup, policy: DmarcPolicy) -> str:
    """The record as published; for one found at the organizational domain, also what it
    says about the shop's domain (RFC 7489 §6.6.3: it governs subdomains without a record)."""
    if not lookup.from_org_domain:
        return policy.record
    source = (
        f"its sp={policy.subdomain_policy}"
        if policy.subdomain_policy
        else f"its p={policy.policy} (it has no sp=)"
    )
    return (
        f"no record at _dmarc.{lookup.from_domain}; the organizational domain's record at "
        f"{lookup.record_name} governs it: {policy.record} ({source} applies to "
        f"{lookup.from_domain})"
    )


def _judge_policy(
    lookup: DmarcLookup, policy: DmarcPolicy, dkim_domain: str, key_published: bool, base: dict
) -> CheckResult:
    effective = policy.policy_for(lookup.from_domain, lookup.record_domain)
    aligned = dkim_aligned(dkim_domain, lookup.from_domain, policy.adkim)
    detail = {
        **base,
        "policy": policy.policy,
        "subdomain_policy": policy.subdomain_policy,
        "effective_policy": effective,
        "adkim": policy.adkim,
        "aspf": policy.aspf,
        "aligned": aligned,
        "tolerated": list(policy.tolerated),
    }
    found = _found(lookup, policy)

    def result(status: Status, reason: str, action: str) -> CheckResult:
        return CheckResult(
            CHECK, status, found, policy.record, action, {"reason": reason, **detail}
        )

    if not aligned:
        status = Status.WARNING if effective == "none" else Status.ERROR
        return result(
            status, "not-aligned", _not_aligned_sentence(lookup, policy, dkim_domain, effective)
        )
    if effective == "reject" and not key_published:
        return result(Status.ERROR, "reject-unverified", _reject_unverified_sentence(lookup))
    return result(Status.OK, "ok", "")


def _not_aligned_sentence(
    lookup: DmarcLookup, policy: DmarcPolicy, dkim_domain: str, effective: str
) -> str:
    from_domain = lookup.from_domain
    if policy.adkim == "s":
        mismatch = f"which is not exactly the From domain {from_domain} (strict alignment, adkim=s)"
        fix = f"set adkim=r in the record at {lookup.record_name}, or send From {dkim_domain}"
    else:
        mismatch = (
            f"which does not share an organizational domain with the From domain {from_domain}"
        )
        fix = f"send From an address at {dkim_domain}"
    outcome = {
        "none": "DMARC fails, although p=none asks receivers to do nothing about it",
        "quarantine": "DMARC fails and receivers put the mail in spam (p=quarantine)",
        "reject": "DMARC fails and receivers reject the mail (p=reject)",
    }[effective]
    return f"The relay signs with d={dkim_domain}, {mismatch}, so {outcome}; {fix}."


def _reject_unverified_sentence(lookup: DmarcLookup) -> str:
    domain = lookup.from_domain
    return (
        f"The DMARC policy for {domain} is p=reject, but {domain} is not verified for the "
        "relay yet: the relay's mail still arrives because it goes out under the relay's "
        f"fallback address, but anything sent as {domain} without a valid {domain} DKIM "
        "signature is rejected by receivers; publish the DKIM record above, or "
        f"publish p=none at _dmarc.{domain} until it passes."
    )
