"""Turn accepted DATA into what will be stored and sent, as a list of named steps.

Each step is a short guard (Postal's outgoing processor reads the same way). The DKIM signature
is computed last, over the exact CRLF bytes that will be sent, by the caller (it may run in a
process pool): `prepare()` returns the messages to sign. Malformed input is refused with a
permanent reply that says what is wrong and where, never left to fail later as an internal
error.
"""

import datetime
import email.utils
import functools
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from bounces.verp import REF_HEADER, encode_ref
from relay.kinds import IMPLICIT_KIND, Kind
from relay.model import Shop
from relay.prepare.headers import MalformedMessage, RawMessage, Source, decoded
from relay.prepare.identity import (
    Fallback,
    Identity,
    choose_identity,
    from_address,
    single_mailbox,
)
from relay.prepare.recipients import Lookups, RecipientPlan, plan_recipient
from relay.prepare.wire import WireRefusal, make_wire_safe
from relay.smtp import replies
from relay.smtp.replies import quote as shown
from relay.unsubscribe import OptOutTarget, link_token, mailto_token

MAX_ORDER = 100  # characters of X-Relay-Order: an order number, not a document
MAX_KIND = 64

if TYPE_CHECKING:
    from relay.prepare.templated import Assets

MAX_REPLY = 512  # octets of a reply line with its CRLF (RFC 5321 4.5.3.1.5)
RENDER_REFUSED = "550 5.6.0 Not rendered: "
RENDER_HEADERS = ("x-relay-template", "x-relay-layout")  # relay.prepare.templated
RENDERED_HEADER = "x-relay-rendered"  # the template that rendered it (relay.render.mime)


class Rejection(Exception):
    """The submission is refused with this SMTP reply; nothing is stored."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True)
class Settings:
    hostname: str
    public_url: str
    bounce_domain: str
    secret: bytes
    fallback: Fallback


@dataclass(frozen=True)
class SignJob:
    """Sign `extra_headers + body`; recipients[i].prefix = signature + extra_headers."""

    recipients: tuple[int, ...]
    extra_headers: bytes
    domain: str
    selector: str
    key_pem: str


@dataclass
class Prepared:
    id: str
    shop: str
    kind: Kind
    order_ref: str | None
    subject: str
    identity: Identity
    message_id: str
    body: bytes | bytearray  # the message as sent; bytearray when built from a spool file
    recipients: list[RecipientPlan]
    head_size: int = 0  # bytes of body[] that are the header fields (before the empty line)
    sign_jobs: list[SignJob] = field(default_factory=list)
    mailto_tokens: list[tuple[str, OptOutTarget]] = field(default_factory=list)
    return_path: str | None = None  # envelope senders' domain when not the relay's (item 5)
    template: str | None = None  # what rendered it ('payment-reminder/de default 3f2a9c0b1d4e')
    test: bool = False  # X-Relay-Test: a test message (relay test-email)
    created_at: float = field(default_factory=time.time)


def new_queue_id() -> str:
    """Sortable by time (ms), unique by 24 random bits: '18F3A2B4C5D9F1E2A'."""
    return f"{int(time.time() * 1000):x}{secrets.token_hex(3)}".upper()


def prepare(
    data: bytes | Source,
    rcpt_tos: list[str],
    shop: Shop,
    verified: set[str],
    lookups: Lookups,
    settings: Settings,
    assets: "Assets | None" = None,
) -> Prepared:
    """`data`: the message as received (bytes, or the spool of relay.smtp.data)."""
    message = _rendered(_parse(data), rcpt_tos, shop, assets)
    relay_headers = message.pop_prefixed("x-relay-")
    message.remove(REF_HEADER.lower())  # only the relay writes it (_report_ref)
    kind = _kind_of(relay_headers, shop)
    order_ref = _order_of(relay_headers)
    _check_from(message, shop)
    _check_sender(message, shop)
    queue_id = new_queue_id()
    message_id = _ensure_message_id(message, queue_id, settings.hostname)
    _ensure_date(message)
    identity = choose_identity(
        message,
        shop.sender_name,
        shop.dkim_selector,
        shop.dkim_private_key,
        verified,
        settings.fallback,
    )
    _set_feedback_id(message, kind, shop, settings)
    _make_wire_safe(message)
    plans = _plan_recipients(rcpt_tos, shop, kind, lookups)
    prepared = Prepared(
        id=queue_id,
        shop=shop.name,
        kind=kind,
        order_ref=order_ref,
        subject=decoded(message.get("subject")),
        identity=identity,
        message_id=message_id,
        body=message.to_bytes(),
        recipients=plans,
        head_size=len(message.header_block()),
        return_path=lookups.return_path(identity.dkim_domain) if identity.kind == "shop" else None,
        template=relay_headers.get(RENDERED_HEADER) or None,
        test=relay_headers.get("x-relay-test", "").strip().lower() in ("yes", "true", "1"),
    )
    _plan_signing(prepared, settings)
    return prepared


def asks_for_rendering(data: bytes | Source) -> bool:
    """Whether the header may name X-Relay-Template or X-Relay-Layout: a look at the raw head,
    before any parsing, so that the caller can render off its event loop. A false yes (the
    words in a longer header name) costs only that; a message without them never renders."""
    raw = data[:_RENDER_LOOK] if isinstance(data, bytes | bytearray) else data.head(_RENDER_LOOK)
    head = b"\n" + bytes(raw).partition(b"\r\n\r\n")[0].lower()
    return any(b"\n" + name.encode() in head for name in RENDER_HEADERS)


_RENDER_LOOK = 256 * 1024  # octets of the header read for asks_for_rendering()


def _parse(data: bytes | Source) -> RawMessage:
    try:
        return RawMessage.parse(data)
    except MalformedMessage as problem:
        raise Rejection(replies.MALFORMED.format(detail=problem)) from None


def _rendered(
    message: RawMessage, rcpt_tos: list[str], shop: Shop, assets: "Assets | None"
) -> RawMessage:
    """X-Relay-Template / X-Relay-Layout: the message the relay renders in the shop's design
    takes the submitted one's place (relay.prepare.templated); a refusal is 550 5.6.0."""
    if all(message.get(name) is None for name in RENDER_HEADERS):
        return message
    # Imported here: rendering loads Jinja2, mrml, Pillow and Babel (~0.1 s), which the CLI,
    # the signing processes and mail without these headers never need.
    from relay.prepare import templated
    from relay.render import RenderError

    try:
        request = templated.read_request(message)
        if request is None:
            return message
        _kind_of({"x-relay-kind": request.kind}, shop)  # an unknown kind: 550 5.7.1 as ever
        if assets is None:
            raise RenderError("this way in does not render templates")
        return templated.render_request(request, message, rcpt_tos, shop, assets)
    except RenderError as error:
        raise Rejection(render_refusal(error)) from None


def render_refusal(error: Exception) -> str:
    """`550 5.6.0` and the refusal's one line, ASCII (RFC 5321 4.2: replies are US-ASCII
    without SMTPUTF8; 'ä' becomes 'a'), within the 512 octets of a reply line."""
    letters = unicodedata.normalize("NFKD", str(error))
    plain = "".join(c for c in letters if not unicodedata.combining(c))
    text = plain.encode("ascii", "replace").decode()
    room = MAX_REPLY - 2 - len(RENDER_REFUSED)
    if len(text) > room:
        text = text[: room - 3] + "..."
    return RENDER_REFUSED + text


def _kind_of(relay_headers: dict[str, str], shop: Shop) -> Kind:
    name = relay_headers.get("x-relay-kind", "").strip().lower() or IMPLICIT_KIND
    kinds = shop.kinds
    if name not in kinds:
        known = ", ".join(sorted(k for k in kinds if k != IMPLICIT_KIND))
        raise Rejection(
            f"550 5.7.1 Unknown X-Relay-Kind {shown(name, MAX_KIND)}; this shop knows: {known}"
        )
    return kinds[name]


def _order_of(relay_headers: dict[str, str]) -> str | None:
    """X-Relay-Order, shown in every history view: printable text of reasonable length only
    (a control character would reach the admin's terminal)."""
    order = relay_headers.get("x-relay-order", "")
    if not order:
        return None
    if len(order) > MAX_ORDER or not order.isprintable():
        raise Rejection(
            f"550 5.6.0 X-Relay-Order {shown(order, 40)} ({len(order)} characters) must be at"
            f" most {MAX_ORDER} printable characters"
        )
    return order


def _check_from(message: RawMessage, shop: Shop) -> None:
    sender = from_address(message)
    if sender is None:
        raise Rejection(
            "550 5.6.0 The message needs exactly one From field with one valid address"
            " (RFC 5322 3.6.2)"
        )
    if not shop.owns_address(sender[1]):
        raise Rejection(_foreign("From", sender[1], shop))


def _check_sender(message: RawMessage, shop: Shop) -> None:
    """Sender names who sent the message (RFC 5322 3.6.2) and is shown by mail clients: like
    From, it may only be the shop's own."""
    if not message.count("sender"):
        return
    sender = single_mailbox(message, "sender")
    if sender is None:
        raise Rejection(
            "550 5.6.0 Sender must be one field with one valid address (RFC 5322 3.6.2)"
        )
    if not shop.owns_address(sender[1]):
        raise Rejection(_foreign("Sender", sender[1], shop))


def _foreign(header: str, address: str, shop: Shop) -> str:
    return (
        f"550 5.7.1 {header} {shown(address)} does not belong to shop {shop.name}; use"
        f" {shop.sender} or an address at {', '.join(shop.domains)}"
    )


def _ensure_message_id(message: RawMessage, queue_id: str, hostname: str) -> str:
    existing = message.get("message-id")
    if existing:
        return existing
    value = f"<{queue_id.lower()}@{hostname}>"
    message.add("Message-ID", value)
    return value


def _ensure_date(message: RawMessage) -> None:
    if message.get("date") is None:
        message.add("Date", _date_header(int(time.time())))


@functools.lru_cache(maxsize=4)
def _date_header(second: int) -> str:
    """RFC 5322 3.3 date-time in UTC, made once per second: zone "+0000" (the obsolete "GMT"
    is obs-zone, RFC 5322 4.3; "-0000" would say the local zone is unknown)."""
    moment = datetime.datetime.fromtimestamp(second, datetime.UTC)
    return email.utils.format_datetime(moment)


def feedback_sender_id(fallback_domain: str) -> str:
    """Gmail's Feedback-ID SenderId: 5 to 15 characters, the same for all the relay's mail
    (Google Postmaster "Feedback Loop"): the letters and digits of the fallback domain, which
    every node of one relay shares."""
    letters = "".join(c for c in fallback_domain.lower() if c.isascii() and c.isalnum())
    return (letters or "relay")[:15].ljust(5, "0")


def _set_feedback_id(message: RawMessage, kind: Kind, shop: Shop, settings: Settings) -> None:
    """`Feedback-ID: <kind>:<shop>:relay:<SenderId>`, Gmail's feedback loop header: complaint
    rates per kind and shop, never per recipient (a per-message value would be dropped as
    identifying). Only one may be present, signed after it is added (dkim_sign.OVERSIGNED):
    a shop's own is replaced. The per-recipient report reference is a separate header."""
    sender_id = feedback_sender_id(settings.fallback.dkim_domain)
    message.replace("Feedback-ID", f"{kind.name}:{shop.name}:relay:{sender_id}")


def _make_wire_safe(message: RawMessage) -> None:
    try:
        make_wire_safe(message)
    except WireRefusal as refusal:
        raise Rejection(refusal.reply) from None


def _plan_recipients(rcpt_tos: list[str], shop: Shop, kind: Kind, lookups: Lookups) -> list:
    plans: dict[str, RecipientPlan] = {}
    for raw in rcpt_tos:
        plan = plan_recipient(raw, shop.name, kind, shop.kinds_disabled, lookups)
        plans.setdefault(plan.address.lower(), plan)  # one row per distinct recipient
    return list(plans.values())


def _plan_signing(prepared: Prepared, settings: Settings) -> None:
    """One signature per recipient: each copy carries its own report reference (and, for
    optional kinds, its own List-Unsubscribe), and the signature covers them."""
    ident = prepared.identity
    for index, plan in enumerate(prepared.recipients):
        if plan.state != "queued":
            continue
        extra = _report_ref(prepared, plan.address, settings)
        if prepared.kind.optional:
            extra += _list_unsubscribe(prepared, plan.address, settings)
        prepared.sign_jobs.append(
            SignJob((index,), extra, ident.dkim_domain, ident.dkim_selector, ident.key_pem)
        )


def _report_ref(prepared: Prepared, address: str, settings: Settings) -> bytes:
    """The signed reference to this recipient (bounces.verp.REF_HEADER) that a complaint quotes
    with the original message (RFC 5965 2 d), so that only a report about mail this recipient
    got blocks the address (SPEC "What it promises"). It carries the queue id and a MAC,
    nothing readable about the customer. SPEC's "the relay removes every X-Relay-* header" is
    about the headers a shop submits; this one is the relay's own, named outside that family
    so that what leaves the relay still carries none, and a shop's copy of it is removed in
    prepare()."""
    ref = encode_ref(settings.secret, prepared.id, address)
    return f"{REF_HEADER}: {ref}\r\n".encode()


def _list_unsubscribe(prepared: Prepared, address: str, settings: Settings) -> bytes:
    """Optional kinds: the recipient's own List-Unsubscribe (RFC 8058), signed with it
    (RFC 8058 4)."""
    target = OptOutTarget(prepared.shop, address, prepared.kind.name)
    mailto = mailto_token(settings.secret, target)
    prepared.mailto_tokens.append((mailto, target))
    url = f"{settings.public_url.rstrip('/')}/u/{quote(link_token(settings.secret, target))}"
    return (
        f"List-Unsubscribe: <{url}>,\r\n <mailto:{mailto}@{settings.bounce_domain}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    ).encode()


def apply_signatures(prepared: Prepared, signatures: list[bytes]) -> None:
    for job, signature in zip(prepared.sign_jobs, signatures, strict=True):
        for index in job.recipients:
            prepared.recipients[index].prefix = signature + job.extra_headers


def sign_job(job: SignJob, message: bytes) -> bytes:
    """The DKIM-Signature of one job over a whole message (signs its body hash once)."""
    from relay import dkim_sign

    return dkim_sign.sign(job.extra_headers + message, job.domain, job.selector, job.key_pem)


def header_and_body(prepared: Prepared) -> tuple[bytes, memoryview]:
    """The header fields of the message as sent, and a view of its body (no copy)."""
    body = memoryview(prepared.body)[prepared.head_size + 2 :]
    return bytes(prepared.body[: prepared.head_size]), body


def sign_headers(jobs: list[SignJob], head: bytes, body_hash: bytes) -> list[bytes]:
    """Every job's DKIM-Signature for one body hash (run in the signing pool, if any)."""
    from relay import dkim_sign

    return [
        dkim_sign.sign_headers(
            job.extra_headers + head, body_hash, job.domain, job.selector, job.key_pem
        )
        for job in jobs
    ]
