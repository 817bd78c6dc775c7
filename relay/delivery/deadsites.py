"""Destinations that took no session lately (Postfix's dead sites): their other mail is
deferred at once with the same reason for DEAD_FOR seconds, instead of each batch waiting out
a connection attempt of its own. One worker's memory; `relay queue retry|flush` clears it."""

import time
from dataclasses import dataclass

from relay.delivery.outcome import Reply

DEAD_FOR = 30.0  # seconds
_FORGET_AT = 1000  # destinations remembered before expired ones are dropped


@dataclass(frozen=True)
class Unreachable:
    """Why a destination took no session at all (no host answered, or its DNS failed)."""

    reply: Reply
    never_works: bool = False  # a permanent DNS answer (NXDOMAIN, null MX): failed, not deferred


class DeadSites:
    def __init__(self, ttl: float = DEAD_FOR) -> None:
        self.ttl = ttl
        self._until: dict[str, tuple[Unreachable, float]] = {}

    def reason(self, destination: str) -> Unreachable | None:
        """Why the destination is held unreachable now, if it is."""
        found = self._until.get(destination)
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def outcome(self, destination: str, unreachable: Unreachable | None) -> None:
        """A real try's result: unreachable (held for `ttl`) or reached (forgotten)."""
        if unreachable is None:
            self._until.pop(destination, None)
            return
        now = time.monotonic()
        if len(self._until) >= _FORGET_AT:
            self._until = {d: held for d, held in self._until.items() if held[1] > now}
        self._until[destination] = (unreachable, now + self.ttl)

    def forget_all(self) -> None:
        self._until.clear()
