"""Reading DATA (RFC 5321 4.1.1.4, 4.5.2) into a spool: memory for small messages, a private
temporary file beyond a threshold, so that 50 sessions sending 25 MB each hold the messages on
disk, not in RAM, while they arrive.

The data is read in the pieces the socket delivers (not line by line) and checked on the way:
it ends only at CRLF.CRLF, so "\\n.\\n", "\\r\\n.\\r" or "\\n.\\r\\n" never end it (SMTP
smuggling); leading dots are removed (transparency); and a strict reader (submission: it signs
and relays what it takes) refuses bare CR or LF and NUL. Lines longer than `line_limit` are
refused, or (submission: relay.prepare.wire re-encodes them) only marked on the spool, which
also says whether any byte is 8-bit, so that a 7-bit message is never scanned again. A message
over the size limit is read to its end and thrown away. The first problem found decides the
reply, given once the data has ended (RFC 5321 4.2.5); from then on nothing is kept.
"""

import asyncio
import io
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from relay.smtp import replies

_END = b".\r\n"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataPolicy:
    size_limit: int | None
    line_limit: int | None  # octets per line, CRLF included (after the transparency dot is gone)
    strict: bool  # refuse bare CR or LF and NUL
    spool_dir: Path | None  # None: always in memory
    spool_above: int = 1 << 20
    refuse_long_lines: bool = True  # False: a line over line_limit only sets Spool.long_lines


class Spool:
    """The unstuffed message: a bytearray until `spool_above` bytes, then an unnamed file
    created 0600 in `spool_dir` (O_TMPFILE: nothing is left behind by a crash)."""

    def __init__(self, directory: Path | None, threshold: int) -> None:
        self._directory, self._threshold = directory, threshold
        self._memory: bytearray | None = bytearray()
        self._file: io.BufferedRandom | None = None
        self.size = 0
        self.eight_bit = False  # some byte is over 127
        self.long_lines = False  # some line is over the policy's line_limit (when not refused)

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if not self.eight_bit and not data.isascii():
            self.eight_bit = True
        if self._memory is not None:
            self._memory += data
            if self._directory is None or len(self._memory) <= self._threshold:
                return
            # mode 0600, unnamed (O_TMPFILE); closed by close()
            self._file = tempfile.TemporaryFile(dir=self._directory)  # noqa: SIM115
            self._file.write(self._memory)
            self._memory = None
            return
        assert self._file is not None
        self._file.write(data)

    def head(self, limit: int) -> bytes:
        """The first `limit` bytes (all of a shorter message)."""
        if self._memory is not None:
            return bytes(memoryview(self._memory)[:limit])
        assert self._file is not None
        self._file.flush()
        return os.pread(self._file.fileno(), limit, 0)

    def read_into(self, offset: int, target: memoryview) -> None:
        """Fill `target` with the bytes from `offset` on (the caller sized it)."""
        if self._memory is not None:
            target[:] = memoryview(self._memory)[offset : offset + len(target)]
            return
        assert self._file is not None
        self._file.flush()
        done = 0
        while done < len(target):
            got = os.preadv(self._file.fileno(), [target[done:]], offset + done)
            if got == 0:
                raise OSError(f"spool file ended at {offset + done} of {self.size} bytes")
            done += got

    def to_bytes(self) -> bytes:
        """The whole message as one bytes object (a single copy, also from the file)."""
        if self._memory is not None:
            return bytes(self._memory)
        assert self._file is not None
        self._file.flush()
        data = os.pread(self._file.fileno(), self.size, 0)
        if len(data) != self.size:
            raise OSError(f"spool file ended at {len(data)} of {self.size} bytes")
        return data

    def close(self) -> None:
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None


class _Checks:
    """What a strict reader refuses, checked piece by piece: line endings and NUL on the data
    as sent, line lengths on the data as received (unstuffed)."""

    def __init__(self, policy: DataPolicy) -> None:
        self._policy = policy
        self._pending_cr = False  # the last piece ended in CR: its LF may start the next one
        self._line_length = 0  # raw octets of the current, unfinished line
        self._lines = 0  # complete lines so far
        self.long_lines = False  # a line over the limit was found (and not refused)

    def raw_problem(self, piece: bytes) -> str | None:
        if not self._policy.strict:
            return None
        if self._bare_line_ending(piece):
            return replies.BARE_LINE_ENDING
        nul = piece.find(b"\0")
        if nul >= 0:
            return replies.NUL_IN_DATA.format(line=self._line_of(piece, nul))
        return None

    def content_problem(self, data: bytes) -> str | None:
        limit = self._policy.line_limit
        if not limit or not data or self.long_lines:  # once marked, the rest needs no look
            return None
        problem = self._line_too_long(data, limit)
        if problem is not None and not self._policy.refuse_long_lines:
            self.long_lines = True
            return None
        return problem

    def _bare_line_ending(self, piece: bytes) -> bool:
        if self._pending_cr:
            if piece[:1] != b"\n":
                return True
            piece = piece[1:]
        self._pending_cr = piece.endswith(b"\r")
        if self._pending_cr:
            piece = piece[:-1]
        rest = piece.replace(b"\r\n", b"")  # one pass; faster than counting CR, LF and CRLF
        return b"\r" in rest or b"\n" in rest

    def _line_too_long(self, data: bytes, limit: int) -> str | None:
        """Lines are counted in octets with their CRLF; one split of the piece gives every
        length at once (cheaper than a regex scan or a search per window)."""
        parts = data.split(b"\n")
        if len(parts) == 1:  # still inside one line
            self._line_length += len(data)
            if self._line_length > limit:
                return replies.LINE_TOO_LONG.format(line=self._lines + 1)
            return None
        if self._line_length + len(parts[0]) + 1 > limit:
            return replies.LINE_TOO_LONG.format(line=self._lines + 1)
        if len(parts) > 2 and max(map(len, parts[1:-1])) + 1 > limit:
            index = next(i for i, part in enumerate(parts) if i and len(part) + 1 > limit)
            return replies.LINE_TOO_LONG.format(line=self._lines + 1 + index)
        if len(parts[-1]) > limit:  # an unfinished line already too long
            return replies.LINE_TOO_LONG.format(line=self._lines + len(parts))
        self._lines += len(parts) - 1
        self._line_length = len(parts[-1])
        return None

    def _line_of(self, piece: bytes, position: int) -> int:
        return self._lines + piece.count(b"\n", 0, position) + 1


class _Receiver:
    def __init__(self, policy: DataPolicy) -> None:
        self.policy = policy
        self.spool = Spool(policy.spool_dir, policy.spool_above)
        self.problem: str | None = None
        self._checks = _Checks(policy)
        self._tail = b"\r\n"  # the last two raw bytes: the data starts at a line start

    def ends_data(self, piece: bytes) -> bool:
        """`piece` ends with ".\\r\\n": is that dot alone on its line (the end of data)?"""
        before = piece[-5:-3] if len(piece) >= 5 else (self._tail + piece[:-3])[-2:]
        return before == b"\r\n"

    def feed(self, piece: bytes) -> None:
        if not piece:
            return
        tail, self._tail = self._tail, (self._tail + piece)[-2:]
        if self.problem is not None:
            return  # read to the end, keep nothing
        self.problem = self._checks.raw_problem(piece)
        if self.problem is None:
            data = _unstuff(tail, piece)
            self.problem = self._checks.content_problem(data)
            limit = self.policy.size_limit
            if self.problem is None and limit and self.spool.size + len(data) > limit:
                self.problem = replies.TOO_BIG.format(limit=limit)
            if self.problem is None:
                self._keep(data)
                self.spool.long_lines = self._checks.long_lines
        if self.problem is not None:
            self.spool.close()

    def _keep(self, data: bytes) -> None:
        try:
            self.spool.write(data)
        except OSError as error:  # a full disk: answer 451 at the end, stay in step with the
            log.error("cannot spool DATA: %s", error)  # client (the rest is data, not commands)
            self.problem = replies.SPOOL_FAILED


def _unstuff(tail: bytes, piece: bytes) -> bytes:
    """RFC 5321 4.5.2: remove the dot a client put before a line starting with one; `tail` is
    the raw data before `piece`, so a CRLF "." split between pieces is seen too."""
    if tail == b"\r\n" and piece.startswith(b"."):
        piece = piece[1:]
    elif tail.endswith(b"\r") and piece.startswith(b"\n."):
        piece = b"\n" + piece[2:]
    return piece.replace(b"\r\n.", b"\r\n") if b"\r\n." in piece else piece


async def receive(reader: asyncio.StreamReader, policy: DataPolicy) -> tuple[Spool, str | None]:
    """Read up to the CRLF.CRLF end of data; return (spool, the refusal or None).

    Searches for ".\\r\\n" and checks what came before it, so the CRLF before the dot is seen
    even when the two arrived in different pieces. A piece is whatever the stream buffer holds:
    asyncio's LimitOverrunError hands over the buffered bytes when no end is among them.
    The caller closes the spool (also when the connection drops: CancelledError).
    """
    receiver = _Receiver(policy)
    try:
        while True:
            try:
                piece = await reader.readuntil(_END)
            except asyncio.LimitOverrunError as exc:
                receiver.feed(await reader.readexactly(exc.consumed))
                continue
            if receiver.ends_data(piece):
                receiver.feed(piece[:-3])
                return receiver.spool, receiver.problem
            receiver.feed(piece)
    except BaseException:
        receiver.spool.close()
        raise
