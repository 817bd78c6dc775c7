"""The refusal every action raises: what is wrong, and which input it is about."""

from __future__ import annotations


class ActionError(ValueError):
    """Refused; `field` names the input (`sender`, `domain`, `password`, ...) or is None.
    `str()` is one sentence that says what to do."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
