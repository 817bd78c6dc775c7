"""The refusal every action raises: what is wrong, and which input it is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from relay.store.db import Database, Write
from relay.store.sql import Tx

T = TypeVar("T")


class ActionError(ValueError):
    """Refused; `field` names the input (`sender`, `url`, `events`, ...) or is None. `str()` is
    one sentence that says what to do. `code` names the refusal for programs (the API's
    problem type), when the caller needs more than "the input is wrong"."""

    def __init__(self, message: str, field: str | None = None, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code

    @property
    def detail(self) -> str:
        return str(self)


class NotFound(ActionError):
    """What was asked for does not exist, or belongs to another shop (the same answer)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field, code="not-found")


def transaction_write(db: Database) -> Write:
    """The `Write` of a process without a group writer (the CLI): one transaction per job."""

    async def write(job: Callable[[Tx], T]) -> T:
        with db.transaction() as tx:
            return job(tx)

    return write
