"""What a shop must publish, ready to paste into its DNS provider's form.

`dkim_record`, `spf_record`, `dmarc_suggestion` and `return_path_record` are pure;
`records_to_publish` reads the existing DMARC records first, so that it recommends
a record only where none applies, and says what an organizational record already asks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dns_checks.dkim_keys import DkimSyntaxError, load_public_key, spki_b64
from dns_checks.dmarc_policy import (
    DmarcLookup,
    DmarcSyntaxError,
    lookup_dmarc,
    parse_dmarc_record,
)
from dns_checks.mailbox_domains import is_public_mailbox_domain
from dns_checks.names import to_ascii_domain
from dns_checks.relay_setup import RelaySetup
from dns_checks.resolver import DnsTemporary, Resolver
from dns_checks.spf_parse import add_include, has_include, new_spf_record

# RFC 1035 §3.3.14: one character-string holds at most 255 octets; longer TXT
# values are published as several strings that receivers concatenate
# (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
_MAX_STRING = 255


@dataclass(frozen=True)
class DnsRecord:
    """name: fully qualified, ASCII, no trailing dot ("@" when the zone apex is meant).

    need: "required" (the relay cannot do without it), "recommended" (DMARC) or
    "optional" (a feature the shop or operator may choose, e.g. the custom return path).
    """

    name: str
    type: str
    value: str
    note: str
    need: str = "required"

    def zone_line(self, ttl: int = 3600) -> str:
        """The record in zone-file syntax, long TXT values split into 255-octet strings."""
        owner = self.name if self.name == "@" else f"{self.name}."
        if self.type in ("CNAME", "PTR", "MX"):
            # Host names in zone files are relative unless they end in a dot (RFC 1035 §5.1).
            return f"{owner} {ttl} IN {self.type} {self.value.rstrip('.')}."
        if self.type != "TXT":
            return f"{owner} {ttl} IN {self.type} {self.value}"
        chunks = [self.value[i : i + _MAX_STRING] for i in range(0, len(self.value), _MAX_STRING)]
        quoted = " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
        return f"{owner} {ttl} IN TXT {quoted or chr(34) * 2}"


def dkim_record(domain: str, selector: str, public_key_der_b64: str) -> DnsRecord:
    """The DKIM key record (RFC 6376 §3.6.1) at <selector>._domainkey.<domain>.

    The key may be given as SubjectPublicKeyInfo or PKCS#1; it is published as
    SubjectPublicKeyInfo, the form every verifier reads.
    """
    ascii_domain = to_ascii_domain(domain)
    try:
        key_b64 = spki_b64(load_public_key(public_key_der_b64))
    except DkimSyntaxError as exc:
        raise ValueError(f"the shop's DKIM public key is unusable: {exc}") from None
    value = f"v=DKIM1; k=rsa; p={key_b64}"
    note = "The relay signs the shop's mail with this key."
    if len(value) > _MAX_STRING:
        note += (
            " The value is longer than 255 characters: DNS providers split it into several"
            " strings by themselves; in a zone file write it as several quoted strings."
        )
    return DnsRecord(f"{selector}._domainkey.{ascii_domain}", "TXT", value, note)


def spf_record(
    existing: str | None, include: str, domain: str = "@", final: str = "~all"
) -> DnsRecord:
    """The SPF record to publish at `domain`, authorising the relay through `include`.

    - existing record: "include:<include>" is inserted before its all / redirect=
      term (never a second record); unchanged when it already includes it.
    - no record: "v=spf1 include:<include> ~all" (`final`; see
      dns_checks.spf_parse.new_spf_record for ~all and -all).
    """
    name = domain if domain == "@" else to_ascii_domain(domain)
    if existing is None:
        note = "New record: there is no SPF record here yet."
        return DnsRecord(name, "TXT", new_spf_record(include, final), note)
    if has_include(existing, include):
        note = "Already authorises the relay; nothing to change."
        return DnsRecord(name, "TXT", existing, note)
    note = f"Replaces the current SPF record (added include:{include})."
    return DnsRecord(name, "TXT", add_include(existing, include), note)


def dmarc_suggestion(domain: str, rua: str | None = None, policy: str = "none") -> DnsRecord:
    """A DMARC record (RFC 7489 §6.3) at _dmarc.<domain>, the shop's own sending domain.

    Never at the organizational domain: a record there governs every subdomain
    (§6.6.3), and the shop may not control it. p=none: monitoring only, nothing is
    rejected while the shop learns who sends as its domain; tighten to
    quarantine/reject once the reports are clean.
    """
    ascii_domain = to_ascii_domain(domain)
    value = f"v=DMARC1; p={policy}" + (f"; rua=mailto:{rua.removeprefix('mailto:')}" if rua else "")
    note = (
        "Recommended, not required by the relay: p=none only asks for reports; "
        "move to p=quarantine or p=reject once all your mail passes."
    )
    return DnsRecord(f"_dmarc.{ascii_domain}", "TXT", value, note, "recommended")


def return_path_record(domain: str, relay: RelaySetup) -> DnsRecord:
    """The custom return path: bounces.<domain> CNAME the relay's bounce domain.

    The CNAME brings the relay's MX and SPF records with it (lookups follow CNAMEs,
    RFC 1034 §3.6.2, RFC 7208 §4.4), so the shop publishes one record that stays right
    when the relay's addresses change. The note gives the MX + SPF alternative.
    """
    name = return_path_name(to_ascii_domain(domain))
    alternative = new_spf_record(relay.spf_include, "-all")
    note = (
        f"Optional, the custom return path: the relay can then use {name} as the envelope "
        "sender of your mail (bounces come back through it), so SPF passes aligned with "
        "your From domain and DMARC passes on SPF as well as on DKIM. Instead of the "
        f'CNAME you may publish at {name}: MX 10 {relay.hostname} and TXT "{alternative}".'
    )
    return DnsRecord(name, "CNAME", relay.bounce_domain, note, "optional")


def shop_spf_note(domain: str) -> str:
    """Why no SPF record is asked for at the shop's own domain (RFC 7208 §2.4: SPF checks
    the MAIL FROM identity, and the relay's envelope sender is never at the shop's domain)."""
    ascii_domain = to_ascii_domain(domain)
    return (
        f"No SPF record is needed at {ascii_domain} for the relay: receivers evaluate SPF for "
        "the envelope sender, which is at the relay's bounce domain, or at "
        f"{return_path_name(ascii_domain)} with the custom return path; an SPF record you "
        "already have there does no harm."
    )


def return_path_name(ascii_domain: str) -> str:
    """bounces.<domain>: the name the custom return path lives at (one per sender domain)."""
    return f"bounces.{ascii_domain}"


def records_to_publish(
    domain: str,
    selector: str,
    public_key_der_b64: str,
    relay: RelaySetup,
    resolver: Resolver,
) -> list[DnsRecord]:
    """DKIM (required), DMARC at the shop's own domain (recommended) when it has no
    record of its own, and the custom return path (optional).

    No SPF record at the shop's domain: the relay's envelope sender is never there
    (it is at the relay's bounce domain, or at bounces.<domain> with the return
    path), so receivers never evaluate it for the relay's mail (RFC 7208 §2.4).

    Returns [] for public mailbox domains (gmail.com, ...): nobody but the
    provider can publish records there. Raises InvalidDomain (a ValueError) for
    text that is not a domain name. DNS trouble does not raise: the DMARC record
    then comes with a note saying what could not be read.
    """
    ascii_domain = to_ascii_domain(domain)
    if is_public_mailbox_domain(ascii_domain):
        return []
    records = [dkim_record(ascii_domain, selector, public_key_der_b64)]
    dmarc = _dmarc_to_publish(ascii_domain, resolver)
    return records + ([dmarc] if dmarc else []) + [return_path_record(ascii_domain, relay)]


def _dmarc_to_publish(ascii_domain: str, resolver: Resolver) -> DnsRecord | None:
    try:
        lookup = lookup_dmarc(ascii_domain, resolver)
    except DnsTemporary:
        suggestion = dmarc_suggestion(ascii_domain)
        note = (
            "Your DMARC record could not be read (DNS error); publish this only if you have none."
        )
        return replace(suggestion, note=note)
    if not lookup.records:
        return dmarc_suggestion(ascii_domain)
    if not lookup.from_org_domain:
        return None
    return _own_dmarc_under(lookup)


def _own_dmarc_under(lookup: DmarcLookup) -> DnsRecord:
    """A record of the shop's own, keeping the policy the organizational record gives it."""
    try:
        policy = parse_dmarc_record(lookup.records[0]) if len(lookup.records) == 1 else None
    except DmarcSyntaxError:
        policy = None
    if policy is None:
        return dmarc_suggestion(lookup.from_domain)
    effective = policy.policy_for(lookup.from_domain, lookup.record_domain)
    suggestion = dmarc_suggestion(lookup.from_domain, policy=effective)
    note = (
        f"Optional: {lookup.record_name} (your organizational domain's record) already "
        f"governs {lookup.from_domain} with p={effective}; a record of your own here keeps "
        "that policy and lets you choose where reports go."
    )
    return replace(suggestion, note=note, need="optional")
