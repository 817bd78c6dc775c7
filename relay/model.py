"""The types `relay/prepare/` and `relay/store/` share, so that neither imports the other.

The recipient state machine lives here as data: `State` names the states (SPEC "Delivery"),
`TRANSITIONS` says which moves are allowed. The store derives the guard of every state-changing
UPDATE from it (`relay.store.recipients`), and a test checks the CHECK constraint of
`recipients.state` against `State`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple, Protocol

from dns_checks import InvalidDomain, to_ascii_domain
from relay.kinds import Kind, shop_kinds


class State(StrEnum):
    """Where one recipient of one message stands (DESIGN "Data")."""

    QUEUED = "queued"  # waiting for its next attempt (next_attempt_at)
    INFLIGHT = "inflight"  # claimed by a delivery lane under a lease
    DELIVERED = "delivered"  # the remote server accepted it
    DEFERRED = "deferred"  # a temporary failure; retried at next_attempt_at
    BOUNCED = "bounced"  # a permanent failure: live 5xx, a DSN, or the queue lifetime ended
    FAILED = "failed"  # can never be delivered (the address or the domain)
    SUPPRESSED = "suppressed"  # not sent on purpose (blocked, opted out, kind disabled)
    QUARANTINED = "quarantined"  # a bug stopped its lane; `relay queue retry` frees it


# The states a recipient row is created in (the submission path decides which).
INITIAL = frozenset({State.QUEUED, State.SUPPRESSED, State.FAILED})

# Allowed moves, from -> to. INFLIGHT -> INFLIGHT is another claimer taking over an expired
# lease; INFLIGHT -> QUEUED gives a lease back (shutdown, a dead worker, a restarted node).
# A DSN may arrive in any state the message could have left the relay from, even after
# `delivered` (SPEC "Delivery": a bounce message arrives later), and never changes a final
# failure: a delivery result that lands after a bounce finds no allowed move.
TRANSITIONS: MappingProxyType[State, frozenset[State]] = MappingProxyType(
    {
        State.QUEUED: frozenset({State.INFLIGHT, State.BOUNCED}),
        State.DEFERRED: frozenset({State.INFLIGHT, State.QUEUED, State.BOUNCED}),
        State.INFLIGHT: frozenset(
            {
                State.INFLIGHT,
                State.QUEUED,
                State.DELIVERED,
                State.DEFERRED,
                State.BOUNCED,
                State.FAILED,
                State.QUARANTINED,
                State.SUPPRESSED,  # blocked or opted out while it waited for a retry
            }
        ),
        State.DELIVERED: frozenset({State.BOUNCED}),
        State.QUARANTINED: frozenset({State.QUEUED, State.BOUNCED}),
        State.BOUNCED: frozenset(),
        State.FAILED: frozenset(),
        State.SUPPRESSED: frozenset(),
    }
)

# What a delivery attempt can end in (relay.delivery.decide).
ATTEMPT_OUTCOMES = frozenset({State.DELIVERED, State.DEFERRED, State.BOUNCED, State.FAILED})


def may_move(source: State, target: State) -> bool:
    return target in TRANSITIONS[source]


def sources(target: State) -> tuple[State, ...]:
    """Every state from which `target` may be reached, in declaration order."""
    return tuple(s for s in State if target in TRANSITIONS[s])


class EventKind(StrEnum):
    """The append-only event log: a closed set of kinds (KumoMTA-style typed events)."""

    ACCEPTED = "accepted"  # stored after submission, answered 250
    SUPPRESSED = "suppressed"  # not sent on purpose (blocked, opted out, kind disabled)
    FAILED = "failed"  # can never be delivered (address or domain)
    WARNING = "warning"  # fallback identity, typo-looking domain, ...
    DEFERRED = "deferred"  # temporary failure, retry planned
    DELIVERED = "delivered"  # remote server accepted
    BOUNCED = "bounced"  # permanent failure (live reply, DSN or expiry)
    DELAYED = "delayed"  # a delay notice (DSN action=delayed) came back
    COMPLAINED = "complained"  # ARF spam complaint
    QUARANTINED = "quarantined"  # a bug stopped processing; needs `relay queue retry`
    RETRY = "retry"  # admin asked for an immediate retry
    BLOCKED = "blocked"  # address put on the block list
    UNBLOCKED = "unblocked"
    OPTED_OUT = "opted-out"
    OPTOUT_REMOVED = "optout-removed"
    IDENTITY = "identity"  # a shop domain changed between verified and unverified
    REPORT = "report"  # a bounce/complaint report was received
    RESUBSCRIBED = "resubscribed"  # the customer undid an opt-out (its link, within 30 days)
    SHOP_CHANGED = "shop-changed"  # identity, credentials, design or templates (field names)
    SHOP_REMOVED = "shop-removed"


def ascii_domain(domain: str) -> str:
    """The A-label form shops are stored under (a From may be written with U-labels)."""
    try:
        return to_ascii_domain(domain)
    except InvalidDomain:
        return domain.strip().rstrip(".").lower()


@dataclass(frozen=True)
class Shop:
    name: str
    domains: tuple[str, ...]
    sender: str
    sender_name: str
    language: str
    password_hash: str
    dkim_selector: str
    dkim_private_key: str
    kinds_disabled: frozenset[str] = frozenset()
    custom_kinds: dict[str, bool] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def kinds(self) -> dict[str, Kind]:
        return shop_kinds(self.custom_kinds)

    def owns_address(self, address: str) -> bool:
        """SPEC: the From address is the shop's sender address or at one of its domains."""
        address = address.lower()
        domain = ascii_domain(address.rpartition("@")[2])
        return address == self.sender.lower() or domain in self.domains


@dataclass(frozen=True)
class Verdict:
    """The last conclusive DNS check of one shop domain (what signing decides on)."""

    domain: str
    verified: bool
    checked_at: float
    stale_since: float | None  # set while DNS trouble keeps this verdict
    report: dict


@dataclass(frozen=True)
class Block:
    address: str
    created_at: float
    reason: str
    source: str
    note: str


@dataclass(frozen=True)
class OptOut:
    shop: str
    address: str
    kind: str
    created_at: float
    source: str


@dataclass
class RecipientPlan:
    """One recipient of a prepared message: what the submission path decided, as stored."""

    address: str  # normalised (lower-case domain, A-label), as used on the envelope
    domain: str
    state: State  # one of INITIAL
    reason: str | None = None
    detail: str | None = None
    prefix: bytes = b""  # DKIM-Signature (+ List-Unsubscribe) put before the shared body
    warnings: tuple[str, ...] = ()


class DeliveryResult(NamedTuple):
    """What one delivery attempt produced and what it means, ready to be recorded (a
    NamedTuple: made once per delivered message, where a frozen dataclass costs 3 us)."""

    recipient: int
    message: str
    shop: str
    address: str
    state: State  # one of ATTEMPT_OUTCOMES
    reason: str | None  # Sisimai reason name, or "expired"
    detail: str | None  # words for people (the reply, or why we gave up)
    next_attempt_at: float | None
    block_address: bool  # the reply proves the address dead
    reply: str  # the whole reply as text, for the event
    code: int
    status: str | None
    text: str
    mx_host: str | None
    tls: bool
    duration_ms: int


# What the store reads from a prepared message (relay.prepare.pipeline.Prepared has these
# attributes). Described structurally so that the store needs no import of `prepare`, and the
# hot path converts nothing.


class StoredIdentity(Protocol):
    @property
    def kind(self) -> str: ...  # "shop" or "fallback"

    @property
    def dkim_domain(self) -> str: ...

    @property
    def header_from(self) -> str: ...

    @property
    def warning(self) -> str | None: ...


class StoredKind(Protocol):
    @property
    def name(self) -> str: ...


class StoredTarget(Protocol):
    """An opt-out target behind a List-Unsubscribe mailto token."""

    @property
    def shop(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def kind(self) -> str: ...


class MessageToStore(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def shop(self) -> str: ...

    @property
    def kind(self) -> StoredKind: ...

    @property
    def order_ref(self) -> str | None: ...

    @property
    def subject(self) -> str: ...

    @property
    def identity(self) -> StoredIdentity: ...

    @property
    def message_id(self) -> str: ...

    @property
    def body(self) -> bytes: ...

    @property
    def recipients(self) -> Sequence[RecipientPlan]: ...

    @property
    def mailto_tokens(self) -> Sequence[tuple[str, StoredTarget]]: ...

    @property
    def template(self) -> str | None: ...  # the template that rendered it, or None

    @property
    def test(self) -> bool: ...  # sent by `relay test-email` (or a test send of the API)

    @property
    def return_path(self) -> str | None: ...  # envelope domain when not the relay's own

    @property
    def created_at(self) -> float: ...
