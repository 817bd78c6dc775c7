"""The refusal every action raises: what went wrong, for people and for programs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from relay.store.db import Database, Write
from relay.store.sql import Tx

T = TypeVar("T")


class ActionError(Exception):
    """`code`: a short name for programs (the API's problem type); `detail`: one sentence for
    people that says what to do; `field`: the input that is wrong, when one is."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


class NotFound(ActionError):
    """What was asked for does not exist, or belongs to another shop (the same answer)."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__("not-found", detail, field)


def transaction_write(db: Database) -> Write:
    """The `Write` of a process without a group writer (the CLI): one transaction per job."""

    async def write(job: Callable[[Tx], T]) -> T:
        with db.transaction() as tx:
            return job(tx)

    return write
