"""The one exception every bad input to rendering raises (SPEC "Design and templates").

Callers map it to their protocol: `550 5.6.0` / `554 5.6.0` over SMTP, 422 problem+json in the
API, exit 1 in the CLI. `str(error)` is one line that names where the problem is.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class RenderError(ValueError):
    """Refusal to render: which template (or design field), which line, which variable, why."""

    def __init__(
        self,
        reason: str,
        *,
        template: str | None = None,
        line: int | None = None,
        variable: str | None = None,
    ) -> None:
        self.reason = _one_line(reason)
        self.template = template
        self.line = line
        self.variable = variable
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.template or ""
        if self.line is not None:
            where = f"{where}, line {self.line}" if where else f"line {self.line}"
        return f"{where}: {self.reason}" if where else self.reason

    def located(self, template: str | None, line: int | None) -> RenderError:
        """The same refusal, with the place filled in where it was not known yet."""
        return RenderError(
            self.reason,
            template=self.template or template,
            line=self.line if self.line is not None else line,
            variable=self.variable,
        )


def _one_line(text: str) -> str:
    """SMTP replies and CLI errors are one line: no CR, LF or other control characters."""
    return _CONTROL.sub(" ", text).strip()[:500]
