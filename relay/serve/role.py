"""Which worker a process is, and its share of relay-wide limits."""

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerRole:
    index: int
    count: int

    def share(self, total: int) -> int:
        """This worker's part of a limit that holds for the whole relay."""
        return max(1, -(-total // self.count))

    @property
    def first(self) -> bool:
        return self.index == 0
