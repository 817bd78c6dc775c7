"""All checks for one sender domain, combined into a DomainReport.

verified = the DKIM key in DNS is the shop's key and d= (the shop's domain) aligns with
the From domain (RFC 7489 §3.1.1, under the DMARC record's adkim=). That is what
receivers check for the relay's mail. The shop's SPF record is not part of it: the
envelope sender is at the relay's bounce domain, so receivers evaluate SPF there
(RFC 7208 §2.4), never at the shop's domain; SPF concerns the shop only for the custom
return path at bounces.<domain> (dns_checks.return_path), which is optional.

Order: DKIM first (its verdict feeds DMARC's reject-unverified rule), then DMARC (its
adkim= and aspf= feed alignment and the return path), then the return path and its SPF.
"""

from __future__ import annotations

from dns_checks.dkim import check_dkim
from dns_checks.dmarc import check_dmarc
from dns_checks.dmarc_policy import dkim_aligned
from dns_checks.mailbox_domains import public_mailbox_reason
from dns_checks.names import InvalidDomain, to_ascii_domain
from dns_checks.relay_setup import RelaySetup
from dns_checks.resolver import Resolver
from dns_checks.results import CheckResult, DomainReport, Status, to_json
from dns_checks.return_path import check_return_path

__all__ = ["CheckResult", "DomainReport", "Status", "check_domain", "to_json"]


def check_domain(
    domain: str,
    selector: str,
    public_key_der_b64: str,
    relay: RelaySetup,
    resolver: Resolver,
    *,
    from_domain: str | None = None,
) -> DomainReport:
    """Check DKIM, DMARC and the custom return path for `domain` (unicode or ASCII).

    from_domain: the domain of the From address when it differs from the signing
    domain (e.g. From news.mein-shop.de, signed d=mein-shop.de); it changes the DMARC
    check and alignment. Defaults to `domain`.

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
    refusal = public_mailbox_reason(ascii_domain)
    if refusal:
        action = f"{refusal}; use an address at your shop's own domain."
        return _domain_error(domain, ascii_domain, action, "public-mailbox-domain")
    try:
        dmarc_from = to_ascii_domain(from_domain) if from_domain else ascii_domain
    except InvalidDomain as exc:
        action = f"{exc}; check the spelling of the From address's domain."
        return _domain_error(domain, ascii_domain, action, "invalid-domain", found=from_domain)
    dkim = check_dkim(ascii_domain, selector, public_key_der_b64, resolver)
    key_matches = bool(dkim.detail.get("key_matches"))
    dmarc = check_dmarc(dmarc_from, ascii_domain, key_matches, resolver)
    aligned = dkim_aligned(ascii_domain, dmarc_from, dmarc.detail.get("adkim", "r"))
    route, spf = check_return_path(
        ascii_domain, relay, resolver, aspf=dmarc.detail.get("aspf", "r")
    )
    results = [dkim, dmarc, route, spf]
    verified = key_matches and aligned
    dns_trouble = any(r.status == Status.UNKNOWN for r in results)
    usable = verified and route.detail["usable"] and not dns_trouble
    return_path = route.detail["record_name"] if usable else None
    return DomainReport(domain, ascii_domain, results, verified, dns_trouble, return_path)


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
