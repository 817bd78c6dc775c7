"""All checks for one sender domain, combined into a DomainReport.

Order matters: SPF and DKIM decide `verified`, and the DMARC check needs that
verdict (p=reject on an unverified domain is an error), so DMARC runs last.
"""

from __future__ import annotations

from collections.abc import Sequence

from dns_checks.dkim import check_dkim
from dns_checks.dmarc import check_dmarc
from dns_checks.mailbox_domains import is_public_mailbox_domain
from dns_checks.names import InvalidDomain, to_ascii_domain
from dns_checks.resolver import Resolver
from dns_checks.results import CheckResult, DomainReport, Status, to_json
from dns_checks.spf import check_spf

__all__ = ["CheckResult", "DomainReport", "Status", "check_domain", "to_json"]


def check_domain(
    domain: str,
    selector: str,
    public_key_der_b64: str,
    sending_ips: Sequence[str],
    spf_include: str,
    resolver: Resolver,
    *,
    from_domain: str | None = None,
) -> DomainReport:
    """Check SPF, DKIM and DMARC for `domain` (unicode or ASCII).

    from_domain: the domain of the From address when it differs from the signing
    domain (e.g. From news.mein-shop.de, signed d=mein-shop.de); it only changes
    the DMARC check. Defaults to `domain`.

    Never raises for bad input from DNS or for an unusable domain: a public
    mailbox domain or a non-domain gives one "domain" error result and asks DNS
    nothing. Raises ValueError only when the shop's own public key is unreadable,
    which is a bug in the caller.
    """
    try:
        ascii_domain = to_ascii_domain(domain)
    except InvalidDomain as exc:
        action = f"{exc}; check the spelling of the shop's domain."
        return _domain_error(domain, domain, action, "invalid-domain")
    if is_public_mailbox_domain(ascii_domain):
        action = (
            f"{ascii_domain} is a public mailbox domain: only its provider can publish "
            "DNS records there, so the relay can never send as it; "
            "use an address at your shop's own domain."
        )
        return _domain_error(domain, ascii_domain, action, "public-mailbox-domain")
    try:
        dmarc_from = to_ascii_domain(from_domain) if from_domain else ascii_domain
    except InvalidDomain as exc:
        action = f"{exc}; check the spelling of the From address's domain."
        return _domain_error(domain, ascii_domain, action, "invalid-domain", found=from_domain)
    spf = check_spf(ascii_domain, sending_ips, spf_include, resolver)
    dkim = check_dkim(ascii_domain, selector, public_key_der_b64, resolver)
    verified = bool(spf.detail.get("all_pass")) and bool(dkim.detail.get("key_matches"))
    dmarc = check_dmarc(dmarc_from, ascii_domain, verified, resolver)
    results = [spf, dkim, dmarc]
    dns_trouble = any(r.status == Status.UNKNOWN for r in results)
    return DomainReport(domain, ascii_domain, results, verified, dns_trouble)


def _domain_error(
    domain: str, ascii_domain: str, action: str, reason: str, found: str | None = None
) -> DomainReport:
    result = CheckResult(
        check="domain",
        status=Status.ERROR,
        found=ascii_domain if found is None else found,
        expected="a domain that belongs to the shop",
        action=action,
        detail={"reason": reason},
    )
    return DomainReport(domain, ascii_domain, [result], verified=False, dns_trouble=False)
