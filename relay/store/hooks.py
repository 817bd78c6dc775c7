"""Who hears about facts once they are committed: `relay serve` registers its metrics here
(relay.metrics), so the store counts what it wrote without importing who listens.

An observer is called as `observer(event, shop, kind)` after the commit of the transaction
that wrote the fact: `accepted` (a message; kind its notification kind), `suppressed` and
`failed` (a recipient decided at submission), `bounced` (a recipient bounced by a report),
`report` (a bounce report processed; kind: bounce, delay, complaint, ...).
"""

from collections.abc import Callable

from relay.store.sql import Tx, after_commit

Observer = Callable[[str, str, str], None]
_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def observed() -> bool:
    """Whether anyone listens (the store skips the lookups a count needs otherwise)."""
    return bool(_observers)


def tell(tx: Tx, event: str, shop: str, kind: str) -> None:
    """Tell every observer about `event` once `tx` is committed."""
    for observer in _observers:
        after_commit(tx, lambda o=observer: o(event, shop, kind))
