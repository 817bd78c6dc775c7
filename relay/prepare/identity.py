"""Whose name the message goes out in (SPEC "Sender identity").

Verified shop domain: From kept, signed d= shop domain. Otherwise From becomes the relay's
fallback address with the shop's configured sender name (never the display name the shop wrote:
"Shop B" <info@shop-a...> must not go out as Shop B <shops@relay...>, the very header genuine
Shop B mail carries), the shop's address goes into Reply-To, the message is signed d= the
fallback domain, and the shop carries a warning.
"""

import email.errors
import email.policy
import functools
from dataclasses import dataclass
from email.utils import formataddr, getaddresses

from relay.model import ascii_domain
from relay.prepare.header_encoding import Unencodable, addr_spec, mailbox
from relay.prepare.headers import RawMessage, decoded


@dataclass(frozen=True)
class Identity:
    kind: str  # "shop" or "fallback"
    dkim_domain: str
    dkim_selector: str
    key_pem: str
    header_from: str  # the From address the customer sees
    warning: str | None


@dataclass(frozen=True)
class Fallback:
    address: str
    dkim_domain: str
    dkim_selector: str
    key_pem: str


def from_address(message: RawMessage) -> tuple[str, str] | None:
    """(display name, address) of the single From mailbox, or None (RFC 5322 3.6.2)."""
    return single_mailbox(message, "from")


def single_mailbox(message: RawMessage, name: str) -> tuple[str, str] | None:
    """(display name, address) when the message has exactly one `name` field holding exactly
    one mailbox (From, Sender: RFC 5322 3.6.2), else None."""
    if message.count(name) != 1:
        return None
    return _parse_from(message.get(name) or "")


@functools.lru_cache(maxsize=1024)
def _parse_from(value: str) -> tuple[str, str] | None:
    # Cached: a shop writes the same From on every message, and the `email` address parser is
    # a visible share of the submission CPU.
    pairs = [p for p in getaddresses([value]) if p[1]]
    if len(pairs) != 1 or "@" not in pairs[0][1]:
        return None
    if not _strictly_one_mailbox(value, pairs[0][1]):
        return None
    return decoded(pairs[0][0]), pairs[0][1]


def _strictly_one_mailbox(value: str, address: str) -> bool:
    """Whether the RFC 5322 parser of `email.headerregistry` reads the same one address without
    an invalid part. `getaddresses` drops what it cannot read: `ceo@bank.example@shop.example`
    became `@shop.example`, an address in the shop's domain that passed the ownership check,
    while mail clients show another "@" ("Composition Kills", USENIX Security 2020). Obsolete
    syntax (a period in a display name: "Müller GmbH & Co. KG") is still accepted."""
    try:
        header = email.policy.default.header_factory("From", value)
    except (ValueError, LookupError, email.errors.HeaderParseError):
        return False
    if any(not isinstance(d, email.errors.ObsoleteHeaderDefect) for d in header.defects):
        return False
    found = [a.addr_spec for a in header.addresses]  # type: ignore[attr-defined]
    local, _, domain = address.rpartition("@")
    return found == [address] and bool(local) and bool(domain)


def _reply_to(name: str, address: str) -> str:
    local, _, domain = address.rpartition("@")
    try:
        return mailbox(name, addr_spec(local, domain))
    except Unencodable:
        return formataddr((name, address))


def choose_identity(
    message: RawMessage,
    shop_sender_name: str,
    shop_selector: str,
    shop_key: str,
    verified: set[str],
    fallback: Fallback,
) -> Identity:
    _display, address = from_address(message) or ("", "")
    domain = ascii_domain(address.rpartition("@")[2])
    if domain in verified:
        return Identity("shop", domain, shop_selector, shop_key, address, None)
    name = shop_sender_name
    # RFC 2047 5 (3): the name as encoded-words of at most 75 characters, folded.
    message.replace("From", mailbox(name, fallback.address))
    if message.get("reply-to") is None:
        message.add("Reply-To", _reply_to(name, address))
    warning = (
        f"sent from the relay's address because your domain {domain} is not set up (SPF/DKIM);"
        f" run `relay dns show` for the records to publish"
    )
    return Identity(
        "fallback",
        fallback.dkim_domain,
        fallback.dkim_selector,
        fallback.key_pem,
        fallback.address,
        warning,
    )
