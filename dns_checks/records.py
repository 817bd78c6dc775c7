"""What a shop must publish, ready to paste into its DNS provider's form.

`dkim_record`, `spf_record` and `dmarc_suggestion` are pure; `records_to_publish`
reads the existing SPF and DMARC records first, so that it never tells a shop
to publish a second SPF record (RFC 7208 §4.5: more than one is a permerror).
"""

from __future__ import annotations

from dataclasses import dataclass

from dns_checks.dkim_keys import DkimSyntaxError, load_public_key, spki_b64
from dns_checks.dmarc_policy import lookup_dmarc
from dns_checks.mailbox_domains import is_public_mailbox_domain
from dns_checks.names import organizational_domain, to_ascii_domain
from dns_checks.resolver import DnsNotFound, DnsTemporary, Resolver
from dns_checks.spf_parse import (
    add_include,
    has_include,
    merge_spf_records,
    new_spf_record,
    spf_records,
)

# RFC 1035 §3.3.14: one character-string holds at most 255 octets; longer TXT
# values are published as several strings that receivers concatenate
# (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
_MAX_STRING = 255


@dataclass(frozen=True)
class DnsRecord:
    """name: fully qualified, ASCII, no trailing dot ("@" when the zone apex is meant)."""

    name: str
    type: str
    value: str
    note: str

    def zone_line(self, ttl: int = 3600) -> str:
        """The record in zone-file syntax, long TXT values split into 255-octet strings."""
        owner = self.name if self.name == "@" else f"{self.name}."
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


def spf_record(existing: str | None, include: str, domain: str = "@") -> DnsRecord:
    """The SPF record to publish at `domain`, authorising the relay through `include`.

    - existing record: "include:<include>" is inserted before its all / redirect=
      term (never a second record); unchanged when it already includes it.
    - no record: "v=spf1 include:<include> ~all". ~all rather than -all because
      the relay cannot know every other server that sends as the shop (shop
      system, office mail, newsletter tool); -all would get their mail rejected.
      See dns_checks.spf_parse.new_spf_record.
    """
    name = domain if domain == "@" else to_ascii_domain(domain)
    if existing is None:
        note = "New record: your domain has no SPF record yet."
        return DnsRecord(name, "TXT", new_spf_record(include), note)
    if has_include(existing, include):
        note = "Already authorises the relay; nothing to change."
        return DnsRecord(name, "TXT", existing, note)
    note = f"Replaces your current SPF record (added include:{include})."
    return DnsRecord(name, "TXT", add_include(existing, include), note)


def dmarc_suggestion(domain: str, rua: str | None = None) -> DnsRecord:
    """A starting DMARC record (RFC 7489 §6.3) at _dmarc.<organizational domain>.

    p=none: monitoring only, nothing is rejected while the shop learns who sends
    as its domain; tighten to quarantine/reject once the reports are clean.
    """
    org_domain = organizational_domain(to_ascii_domain(domain))
    value = "v=DMARC1; p=none" + (f"; rua=mailto:{rua.removeprefix('mailto:')}" if rua else "")
    note = (
        "Recommended, not required by the relay: p=none only asks for reports; "
        "move to p=quarantine or p=reject once all your mail passes."
    )
    return DnsRecord(f"_dmarc.{org_domain}", "TXT", value, note)


def records_to_publish(
    domain: str,
    selector: str,
    public_key_der_b64: str,
    spf_include: str,
    resolver: Resolver,
) -> list[DnsRecord]:
    """DKIM, SPF (merged into what exists) and, when none exists, a DMARC suggestion.

    Returns [] for public mailbox domains (gmail.com, ...): nobody but the
    provider can publish records there. Raises InvalidDomain (a ValueError) for
    text that is not a domain name. DNS trouble does not raise: the SPF record
    then comes with a note saying it could not be merged with what is published.
    """
    ascii_domain = to_ascii_domain(domain)
    if is_public_mailbox_domain(ascii_domain):
        return []
    records = [dkim_record(ascii_domain, selector, public_key_der_b64)]
    records.append(_spf_to_publish(ascii_domain, spf_include, resolver))
    dmarc = _dmarc_to_publish(ascii_domain, resolver)
    return records + ([dmarc] if dmarc else [])


def _spf_to_publish(ascii_domain: str, include: str, resolver: Resolver) -> DnsRecord:
    try:
        existing = spf_records(resolver.txt(ascii_domain))
    except DnsNotFound:
        existing = []
    except DnsTemporary:
        record = spf_record(None, include, ascii_domain)
        note = (
            "Your current SPF record could not be read (DNS error). If you already "
            f"have one, add include:{include} to it instead of publishing a second one."
        )
        return DnsRecord(record.name, record.type, record.value, note)
    if len(existing) <= 1:
        return spf_record(existing[0] if existing else None, include, ascii_domain)
    merged = spf_record(merge_spf_records(existing), include, ascii_domain)
    note = (
        f"You publish {len(existing)} SPF records, which breaks SPF: replace them all "
        "with this one record."
    )
    return DnsRecord(merged.name, merged.type, merged.value, note)


def _dmarc_to_publish(ascii_domain: str, resolver: Resolver) -> DnsRecord | None:
    try:
        found = lookup_dmarc(ascii_domain, resolver).records
    except DnsTemporary:
        suggestion = dmarc_suggestion(ascii_domain)
        note = (
            "Your DMARC record could not be read (DNS error); publish this only if you have none."
        )
        return DnsRecord(suggestion.name, suggestion.type, suggestion.value, note)
    return None if found else dmarc_suggestion(ascii_domain)
