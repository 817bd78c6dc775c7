"""smtp-sink as the customers' MX, with a counter that reads only the end of its output."""

from __future__ import annotations

import re
from pathlib import Path

from tests.rig.smtp_sink import SmtpSink

_MESG = re.compile(rb"mesg=(\d+)")


class Sink(SmtpSink):
    """tests.rig's SmtpSink; `count` reads the last counters only (cheap to poll often)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, backlog=1024)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def count(self) -> int:
        try:
            with open(self.output_path, "rb") as out:
                out.seek(0, 2)
                size = out.tell()
                out.seek(max(0, size - 512))
                found = _MESG.findall(out.read())
        except OSError:
            return 0
        return int(found[-1]) if found else 0
