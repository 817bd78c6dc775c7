"""Header fields for servers that never agreed to SMTPUTF8: raw UTF-8 becomes 7-bit.

RFC 5322 header fields are US-ASCII; UTF-8 in them (RFC 6532) may only travel with SMTPUTF8
(RFC 6531). The submission path accepts UTF-8 in headers, so before signing every field that
holds any is written the 7-bit way its syntax allows:

- unstructured fields (Subject, Comments, X-...: RFC 5322 3.6.5, 3.6.8) as RFC 2047 encoded-
  words, folded by the `email` package's SMTP policy (only the words that need it);
- address fields: display names and group names as RFC 2047 encoded-words (RFC 2047 5 (3)), a
  Unicode domain as its A-label (RFC 5890); a local part in UTF-8 has no 7-bit form and stays
  as it is, so the message then needs SMTPUTF8 (relay.delivery.client checks the server);
- Content-Type / Content-Disposition parameters (a file name) as RFC 2231 values.

Anything else (Message-ID, References, Date, List-*, ...) cannot hold encoded-words (RFC 2047
5): `Unencodable`, which the pipeline turns into a refusal at DATA.
"""

import email.message
import email.policy
import email.utils
from email.errors import NonASCIILocalPartDefect
from email.header import Header
from email.headerregistry import Address

from relay.model import ascii_domain
from relay.prepare.headers import unfold

ADDRESS_FIELDS = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from", "resent-sender"}
    | {"resent-to", "resent-cc", "resent-bcc", "disposition-notification-to"}
    | {"return-receipt-to", "mail-followup-to", "mail-reply-to"}
)
PARAMETER_FIELDS = frozenset({"content-type", "content-disposition"})
# Structured fields whose syntax has no place for an encoded-word (RFC 2047 5).
STRUCTURED = frozenset(
    {"message-id", "in-reply-to", "references", "date", "resent-date", "resent-message-id"}
    | {"received", "return-path", "mime-version", "content-transfer-encoding", "content-id"}
    | {"content-location", "content-language", "dkim-signature", "authentication-results"}
    | {"arc-seal", "arc-message-signature", "arc-authentication-results", "received-spf"}
    | {"list-id", "list-unsubscribe", "list-unsubscribe-post", "list-help", "list-post"}
    | {"list-subscribe", "list-owner", "list-archive", "feedback-id", "x-report-ref"}
)
MAX_LINE = 998  # octets of a line without its CRLF (RFC 5322 2.1.1)
_SPECIALS = set('()<>[]:;@\\,."')
_UNSTRUCTURED = email.policy.SMTP.clone(refold_source="all")  # parse and refold every value
_PARSE = email.policy.default


class Unencodable(ValueError):
    """A field holds UTF-8 that its syntax cannot carry 7-bit; the text says which and why."""


def encode_field(name: str, raw: bytes) -> tuple[bytes, bool]:
    """(the field with its CRLF, 7-bit where it can be; True when UTF-8 is left in it: an
    address whose local part is not ASCII, which needs SMTPUTF8)."""
    if raw.isascii():
        return raw, False
    written = raw.split(b":", 1)[0].decode("ascii")
    value = unfold(raw)
    if name in ADDRESS_FIELDS:
        return address_field(written, value)
    if name in PARAMETER_FIELDS:
        return parameter_field(written, value), False
    if name in STRUCTURED:
        raise Unencodable(
            f"the {written} field holds non-ASCII text, which it cannot carry encoded"
            " (RFC 2047 5); write it in ASCII"
        )
    folded = _UNSTRUCTURED.fold(written, value)
    if not folded.isascii():
        raise Unencodable(f"the {written} field could not be encoded (RFC 2047)")
    return folded.encode("ascii"), False


def address_field(written: str, value: str) -> tuple[bytes, bool]:
    """An address list (RFC 5322 3.4) with encoded names and A-label domains, one mailbox a
    line."""
    header = _PARSE.header_factory(written, value)
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if defects or not header.groups:  # a UTF-8 local part is RFC 6532, no defect
        raise Unencodable(f"the {written} field is not a readable address list (RFC 5322 3.4)")
    items: list[str] = []
    utf8 = False
    for group in header.groups:
        mailboxes = []
        for address in group.addresses:
            spec = addr_spec(address.username, address.domain, written)
            utf8 = utf8 or not spec.isascii()
            mailboxes.append(mailbox(address.display_name, spec))
        if group.display_name is None:
            items += mailboxes
        else:
            items.append(f"{phrase(group.display_name)}: {', '.join(mailboxes)};")
    field = f"{written}: " + ",\r\n ".join(items) + "\r\n"
    return _checked(field, written), utf8


def addr_spec(local: str, domain: str, written: str = "address") -> str:
    """local@domain with the domain as its A-label; the local part quoted when it must be."""
    ascii_name = ascii_domain(domain)
    if not ascii_name.isascii() or not local:
        raise Unencodable(f"the {written} field holds an address without a valid domain")
    return Address(username=local, domain=ascii_name).addr_spec


def mailbox(display_name: str, spec: str) -> str:
    """`name <spec>`, the name quoted or RFC 2047-encoded as needed; `spec` alone without one."""
    return f"{phrase(display_name)} <{spec}>" if display_name else spec


def phrase(text: str) -> str:
    """A display name as RFC 5322 3.2.5 phrase: as it is, quoted, or encoded-words (RFC 2047
    5 (3): folded so that no encoded-word is over 75 characters)."""
    if not text.isascii():
        return Header(text, "utf-8").encode(linesep="\r\n")
    if any(c in _SPECIALS for c in text):
        return '"' + email.utils.quote(text) + '"'
    return text


def parameter_field(written: str, value: str) -> bytes:
    """Content-Type / Content-Disposition with each non-ASCII parameter as an RFC 2231 value
    (`filename*=utf-8''Rechnung%20M%C3%BCller.pdf`), one parameter a line."""
    holder = email.message.Message()
    holder[written] = value
    params = holder.get_params(header=written, unquote=True) or []
    if not params or not params[0][0].isascii():
        raise Unencodable(f"the {written} field's type is not ASCII (RFC 2045 5.1)")
    parts = [params[0][0]]
    for key, raw in params[1:]:
        text = email.utils.collapse_rfc2231_value(raw) if isinstance(raw, tuple) else raw
        if not key.isascii():
            raise Unencodable(f"the {written} field has a parameter name that is not ASCII")
        if text.isascii():
            parts.append(f'{key}="{email.utils.quote(text)}"')
        else:
            parts.append(f"{key}*={email.utils.encode_rfc2231(text, 'utf-8')}")
    return _checked(f"{written}: " + ";\r\n ".join(parts) + "\r\n", written)


def _checked(field: str, written: str) -> bytes:
    if any(len(line) > MAX_LINE for line in field.split("\r\n")):
        raise Unencodable(f"the {written} field is too long to encode within 998 octets a line")
    return field.encode("utf-8")
