"""The SPF check: does the shop's SPF record authorise every relay sending address?

Query: the TXT records at the shop domain. Evaluate: pyspf, per address
(dns_checks.spf_eval). Check: turn the outcomes into one CheckResult whose
sentence says which result, why, and the exact record to publish instead.

Statuses (RFC 7208 §2.6 results):
- every address "pass"                  -> ok (warning for "+all", which authorises anybody)
- fail, softfail, neutral, none, permerror for any address -> error
- temperror (DNS trouble)               -> unknown
- more than one SPF record              -> error "several-records" (a permerror, §4.5)
- no sending addresses configured       -> warning "no-sending-ips": nothing proves SPF,
  so the domain is NOT verified.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.results import CheckResult, Status
from dns_checks.spf_eval import SpfOutcome, evaluate
from dns_checks.spf_parse import (
    add_include,
    all_term,
    has_include,
    merge_spf_records,
    new_spf_record,
    redirect_target,
    replace_all_term,
    spf_records,
)

CHECK = "spf"

# What each failing result does to the relay's mail, for the sentence.
_EFFECT = {
    "fail": "receivers reject mail from the relay's servers ({ips})",
    "softfail": "receivers treat mail from the relay's servers ({ips}) as suspicious",
    "neutral": "receivers learn nothing about the relay's servers ({ips}), which proves nothing",
}

# pyspf's permerror reasons, in words a shop owner can act on (RFC 7208 §4.6.4, §5.2, §6.1).
_PERMERROR_WORDS = [
    ("Too many DNS lookups", "it needs more than 10 DNS lookups (RFC 7208 §4.6.4)"),
    ("More than 40 DNS lookups", "it needs more than 10 DNS lookups (RFC 7208 §4.6.4)"),
    (
        "Void lookup limit",
        "more than 2 of the names it looks up do not exist or have no records (RFC 7208 §4.6.4)",
    ),
    ("No valid SPF record for included domain", "it includes {mech}, which has no SPF record"),
    ("Two or more type TXT spf records", "a domain it includes publishes more than one SPF record"),
    ("redirect domain has no SPF record", "it redirects to {mech}, which has no SPF record"),
    ("Unknown mechanism found", "it contains the unknown term '{mech}'"),
    ("Non-ascii characters", "it contains characters that are not plain ASCII"),
]


def check_spf(
    ascii_domain: str,
    sending_ips: Sequence[str],
    spf_include: str,
    resolver: Resolver,
    *,
    final: str = "~all",
) -> CheckResult:
    """detail: reason, record_name, records, include, includes_relay, all_pass,
    results (one {"ip", "spf_result", "mechanism", "explanation"} per address).

    final: the "all" term of a new record offered where there is none (see
    spf_parse.new_spf_record: "-all" for a name only the relay sends from)."""
    try:
        records = spf_records(resolver.txt(ascii_domain))
    except DnsNotFound:
        records = []
    except DnsTemporary as exc:
        return _unknown(ascii_domain, spf_include, str(exc))
    detail = {
        "record_name": ascii_domain,
        "records": records,
        "include": spf_include,
        "includes_relay": len(records) == 1 and has_include(records[0], spf_include),
        "all_pass": False,
        "results": [],
    }
    if len(records) > 1:
        return _several_records(ascii_domain, records, spf_include, detail)
    record = records[0] if records else None
    expected = add_include(record, spf_include) if record else new_spf_record(spf_include, final)
    bad_ips = [ip for ip in sending_ips if not _is_ip(ip)]
    if not sending_ips or bad_ips:
        return _cannot_evaluate(record, expected, bad_ips, detail)
    outcomes = [
        evaluate(str(ipaddress.ip_address(ip)), ascii_domain, resolver) for ip in sending_ips
    ]
    detail["results"] = [_outcome_detail(outcome) for outcome in outcomes]
    return _judge(ascii_domain, record, expected, spf_include, outcomes, detail)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _outcome_detail(outcome: SpfOutcome) -> dict:
    return {
        "ip": outcome.ip,
        "spf_result": outcome.result,
        "mechanism": outcome.mechanism,
        "explanation": outcome.explanation,
    }


def _result(
    status: Status, found: str | None, expected: str, action: str, detail: dict, reason: str
) -> CheckResult:
    return CheckResult(
        CHECK, status, found or "no record", expected, action, {"reason": reason, **detail}
    )


def _unknown(domain: str, include: str, problem: str) -> CheckResult:
    action = f"DNS did not answer for {domain} ({problem}); the check is repeated later."
    detail = {"record_name": domain, "include": include, "problem": problem}
    return _result(
        Status.UNKNOWN,
        "unknown (DNS error)",
        f"an SPF record that includes {include}",
        action,
        detail,
        "dns-error",
    )


def _several_records(domain: str, records: list[str], include: str, detail: dict) -> CheckResult:
    merged = add_include(merge_spf_records(records), include)
    action = (
        f"{domain} has {len(records)} SPF records, so receivers treat its SPF as broken "
        f"(permerror, RFC 7208 §4.5): publish exactly one SPF record; merge them into: {merged}"
    )
    return _result(Status.ERROR, " | ".join(records), merged, action, detail, "several-records")


def _cannot_evaluate(
    record: str | None, expected: str, bad_ips: list[str], detail: dict
) -> CheckResult:
    if bad_ips:
        listed = ", ".join(bad_ips)
        problem = f"the relay's sending addresses include {listed}, which is not an IP address"
        status, reason = Status.ERROR, "bad-sending-ip"
    else:
        problem = "the relay's sending addresses are not configured"
        status, reason = Status.WARNING, "no-sending-ips"
    action = (
        f"SPF cannot be evaluated because {problem} (delivery.sending_ips), "
        "so the domain cannot be verified"
    )
    if record != expected:
        action += f"; meanwhile, change your SPF record to: {expected}"
    return _result(status, record, expected, action + ".", detail, reason)


def _ip_list(outcomes: list[SpfOutcome]) -> str:
    ips = [outcome.ip for outcome in outcomes]
    return ips[0] if len(ips) == 1 else ", ".join(ips[:-1]) + " and " + ips[-1]


def _judge(
    domain: str,
    record: str | None,
    expected: str,
    include: str,
    outcomes: list[SpfOutcome],
    detail: dict,
) -> CheckResult:
    failing = [o for o in outcomes if o.result not in ("pass", "temperror")]
    if failing:
        first = failing[0].result
        same = [o for o in failing if o.result == first]
        action = _failure_sentence(domain, record, expected, include, first, same)
        return _result(Status.ERROR, record, expected, action, detail, first)
    temporary = [o for o in outcomes if o.result == "temperror"]
    if temporary:
        action = (
            f"SPF could not be evaluated because of a DNS error ({temporary[0].problem}); "
            "the check is repeated later."
        )
        return _result(Status.UNKNOWN, record, expected, action, detail, "temperror")
    detail["all_pass"] = True
    if record and all_term(record) == "+all":
        action = (
            "Your SPF record ends in +all, which authorises every server on the internet "
            f"to send as {domain}; replace +all with ~all."
        )
        return _result(
            Status.WARNING, record, replace_all_term(record, "~all"), action, detail, "plus-all"
        )
    return _result(Status.OK, record, record or expected, "", detail, "pass")


def _permerror_fix(domain: str, record: str, expected: str, include: str, problem: str) -> str:
    if problem.startswith(("Too many DNS lookups", "More than 40 DNS lookups")):
        # RFC 7208 4.6.4: at most 10 terms that cause DNS lookups, nested includes counted.
        return (
            f"cut the DNS lookups of the TXT record at {domain} to at most 10, "
            f"include:{include} among them: remove include:, a, mx and exists terms of "
            "services you no longer use, or replace them by the ip4:/ip6: addresses they stand for"
        )
    if expected != record:
        return f"change the TXT record at {domain} so that it reads like: {expected}"
    return f"correct that in the TXT record at {domain}, keeping include:{include}"


def _failure_sentence(
    domain: str,
    record: str | None,
    expected: str,
    include: str,
    result: str,
    outcomes: list[SpfOutcome],
) -> str:
    ips = _ip_list(outcomes)
    if result == "none" or record is None:
        return (
            f"{domain} has no SPF record, so nothing authorises the relay's servers ({ips}) "
            f"to send as {domain} (SPF none); publish this TXT record at {domain}: {expected}"
        )
    if result == "permerror":
        why = _permerror_words(outcomes[0].problem, outcomes[0].explanation)
        return (
            f"The SPF record at {domain} is broken (permerror): {why}, so receivers ignore it; "
            f"{_permerror_fix(domain, record, expected, include, outcomes[0].problem)}."
        )
    effect = _EFFECT.get(result, "receivers do not accept the relay's servers ({ips})").format(
        ips=ips
    )
    if has_include(record, include):
        return (
            f"Your SPF record includes {include}, but {include} does not list the relay's "
            f"servers, so {effect} (SPF {result}); nothing to change on your side: "
            "tell the relay's operator, who must fix that record."
        )
    cause = _cause(record, include, outcomes[0].mechanism)
    return f"{cause}, so {effect} (SPF {result}); change the TXT record at {domain} to: {expected}"


def _cause(record: str, include: str, mechanism: str | None) -> str:
    target = redirect_target(record)
    if target and not all_term(record):
        # RFC 7208 §6.1: without "all", redirect= hands the whole decision to the target.
        return f"Your SPF record hands over to {target} (redirect=), and neither includes {include}"
    if mechanism and mechanism.lower().endswith("all"):
        return f"Your SPF record ends in {mechanism} and does not include {include}"
    if mechanism:
        return (
            f"Your SPF record decides on the relay's servers with '{mechanism}' "
            f"and does not include {include}"
        )
    return f"Your SPF record has no 'all' term and does not include {include}"


def _permerror_words(problem: str, explanation: str) -> str:
    mech = explanation.rsplit(": ", 1)[-1] if ": " in explanation else ""
    for marker, words in _PERMERROR_WORDS:
        if problem.startswith(marker):
            return words.format(mech=mech.removeprefix("include:"))
    return f"{problem or explanation} (RFC 7208)"
