"""The DATA reader (relay/smtp/data.py): where data ends, what it refuses, where it keeps it.

In-process: the reader on a real asyncio StreamReader with aiosmtpd's line limit, fed in pieces
of random sizes, so every CRLF, dot and terminator also lands on a piece boundary.
"""

from __future__ import annotations

import asyncio
import os
import random
import stat
from pathlib import Path

import pytest

from relay.smtp import replies
from relay.smtp.admission import MemoryGate
from relay.smtp.data import DataPolicy, Spool, receive

STRICT = DataPolicy(size_limit=None, line_limit=1000, strict=True, spool_dir=None)
LENIENT = DataPolicy(size_limit=None, line_limit=None, strict=False, spool_dir=None)


def stuffed(content: bytes) -> bytes:
    """What a client sends for `content` (CRLF lines): dot-stuffed, then CRLF.CRLF."""
    lines = content.split(b"\r\n")
    assert lines[-1] == b""
    wire = b"".join(
        (b"." if line.startswith(b".") else b"") + line + b"\r\n" for line in lines[:-1]
    )
    return wire + b".\r\n"


async def _run(wire: bytes, policy: DataPolicy, seed: int = 0) -> tuple[bytes, str | None, bytes]:
    """Feed `wire` in random pieces; return (content, problem, what is left in the reader)."""
    reader = asyncio.StreamReader(limit=1001)  # aiosmtpd: SMTP.line_length_limit
    rng = random.Random(seed)

    async def feed() -> None:
        position = 0
        while position < len(wire):
            size = rng.choice([1, 2, 3, 5, 64, 1000, 4096, 70_000])
            reader.feed_data(wire[position : position + size])
            position += size
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    spool, problem = await receive(reader, policy)
    await feeder
    content = spool.to_bytes()
    spool.close()
    return content, problem, await reader.read()


def run(wire: bytes, policy: DataPolicy = STRICT, seed: int = 0) -> tuple[bytes, str | None, bytes]:
    return asyncio.run(_run(wire, policy, seed))


def random_content(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(0, 60)):
        lines.append(bytes(rng.choice(b"..ab \t") for _ in range(rng.randint(0, 12))))
    return b"".join(line + b"\r\n" for line in lines)


def test_content_is_unstuffed_exactly_and_the_next_command_is_left_alone() -> None:
    rng = random.Random(5)
    for seed in range(300):
        content = random_content(rng)
        got, problem, rest = run(stuffed(content) + b"QUIT\r\n", seed=seed)
        assert (got, problem, rest) == (content, None, b"QUIT\r\n"), content


@pytest.mark.parametrize("smuggle", [b"\n.\n", b"\r\n.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n"])
def test_only_crlf_dot_crlf_ends_the_data(smuggle: bytes) -> None:
    """SMTP smuggling: a second message hidden behind a lone LF or CR end of data."""
    hidden = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<v@example.org>\r\nDATA\r\nevil\r\n"
    wire = b"Subject: x\r\n\r\nfirst" + smuggle + hidden + b"\r\n.\r\nNOOP\r\n"
    for seed in range(20):
        _, problem, rest = run(wire, STRICT, seed)
        assert problem == replies.BARE_LINE_ENDING and rest == b"NOOP\r\n"
        content, problem, rest = run(wire, LENIENT, seed)  # the bounce listener keeps it all
        assert problem is None and rest == b"NOOP\r\n"
        sent = b"Subject: x\r\n\r\nfirst" + smuggle + hidden + b"\r\n"
        assert content == sent.replace(b"\r\n.", b"\r\n")  # a line's leading dot goes


def test_a_long_line_is_refused_with_its_number() -> None:
    content = b"Subject: x\r\n\r\n" + b"ok\r\n" * 5 + b"y" * 999 + b"\r\nrest\r\n"  # 999 > 998
    for seed in range(10):
        _, problem, rest = run(stuffed(content) + b"NOOP\r\n", STRICT, seed)
        assert problem == replies.LINE_TOO_LONG.format(line=8) and rest == b"NOOP\r\n"
    fits = b"y" * 998 + b"\r\n" + b"." + b"z" * 997 + b"\r\n"  # 1000 and (stuffed) 1001 octets
    assert run(stuffed(fits))[:2] == (fits, None)
    assert run(stuffed(content), LENIENT)[:2] == (content, None)


MARK = DataPolicy(size_limit=None, line_limit=1000, strict=True, spool_dir=None,
                  refuse_long_lines=False)  # fmt: skip


async def _flags(wire: bytes, seed: int) -> tuple[str | None, bool, bool]:
    reader = asyncio.StreamReader(limit=1001)
    rng = random.Random(seed)
    position = 0
    while position < len(wire):
        size = rng.choice([1, 7, 1000, 4096])
        reader.feed_data(wire[position : position + size])
        position += size
    reader.feed_eof()
    spool, problem = await receive(reader, MARK)
    spool.close()
    return problem, spool.eight_bit, spool.long_lines


def test_submission_marks_long_lines_and_8_bit_content_instead_of_refusing() -> None:
    """relay.prepare.wire re-encodes such a message before signing; the reader's marks spare
    every other message a second scan."""
    seven = b"Subject: x\r\n\r\n" + b"y" * 998 + b"\r\nok\r\n"
    long_line = b"Subject: x\r\n\r\nok\r\n" + b"<td>" * 1250 + b"\r\nrest\r\n"
    eight = "Subject: Grüße\r\n\r\nok\r\n".encode()
    for seed in range(10):
        assert asyncio.run(_flags(stuffed(seven), seed)) == (None, False, False)
        assert asyncio.run(_flags(stuffed(long_line), seed)) == (None, False, True)
        assert asyncio.run(_flags(stuffed(eight), seed)) == (None, True, False)


def test_nul_is_refused_in_strict_mode_only() -> None:
    content = b"Subject: x\r\n\r\nline\r\nbin\0ary\r\n"
    assert run(stuffed(content))[1] == replies.NUL_IN_DATA.format(line=4)
    assert run(stuffed(content), LENIENT)[:2] == (content, None)


def test_an_oversized_message_is_read_to_its_end_and_not_kept(tmp_path: Path) -> None:
    policy = DataPolicy(100_000, 1000, True, tmp_path, spool_above=10_000)
    content = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n" * 1  # small enough
    assert run(stuffed(content), policy)[:2] == (content, None)
    big = b"Subject: big\r\n\r\n" + (b"x" * 78 + b"\r\n") * 2000
    got, problem, rest = run(stuffed(big) + b"RSET\r\n", policy)
    assert problem == replies.TOO_BIG.format(limit=100_000)
    assert got == b"" and rest == b"RSET\r\n"


def test_a_large_message_waits_in_a_private_unnamed_file_in_the_spool_directory(
    tmp_path: Path,
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o700)
    spool = Spool(spool_dir, threshold=1000)
    spool.write(b"a" * 999)
    assert not spool.on_disk
    spool.write(b"b" * 10)
    assert spool.on_disk
    fd = spool._file.fileno()  # type: ignore[union-attr]
    assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
    assert os.readlink(f"/proc/self/fd/{fd}").startswith(str(spool_dir))
    assert list(spool_dir.iterdir()) == []  # unnamed: a crash leaves nothing behind
    view = memoryview(bytearray(6))
    spool.read_into(996, view)
    assert bytes(view) == b"aaabbb" and spool.head(3) == b"aaa"
    assert spool.to_bytes() == b"a" * 999 + b"b" * 10
    spool.close()
    assert spool.size == 1009 and not spool.on_disk


def test_memory_gate_lets_big_messages_in_by_their_sizes() -> None:
    async def main() -> list[str]:
        gate = MemoryGate(budget=100)
        order: list[str] = []

        async def one(name: str, size: int, hold: float) -> None:
            async with gate.hold(size):
                order.append(f"+{name}")
                await asyncio.sleep(hold)
                order.append(f"-{name}")

        await asyncio.gather(one("a", 60, 0.05), one("b", 60, 0.01), one("c", 30, 0.01))
        assert gate.used == 0
        return order

    order = asyncio.run(main())
    # b (60) waits until a is done; c (30) would fit beside a but comes after b: first come,
    # first served, then b and c fit together.
    assert order.index("+b") > order.index("-a")
    assert order.index("+b") < order.index("+c") < order.index("-b")


def test_a_big_waiter_is_not_passed_for_good_by_small_ones() -> None:
    """Final review: small messages that each fit went in ahead of a large one waiting for
    room, for as long as they kept coming (a 25 MB delivery among PDF invoices waited
    forever, its row in flight, its connection idle)."""

    async def main() -> list[str]:
        gate = MemoryGate(budget=100)
        order: list[str] = []

        async def one(name: str, size: int, hold: float) -> None:
            async with gate.hold(size):
                order.append(name)
                await asyncio.sleep(hold)

        async def stream_of_small() -> None:
            for i in range(20):
                await one(f"small{i}", 30, 0.01)

        async def big_later() -> None:
            await asyncio.sleep(0.005)
            await one("big", 90, 0.01)

        await asyncio.gather(*(stream_of_small() for _ in range(2)), big_later())
        assert gate.used == 0
        return order

    order = asyncio.run(main())
    assert order.index("big") <= 4, order  # its turn comes once those ahead of it are done


def test_a_message_bigger_than_the_budget_still_passes_alone() -> None:
    async def main() -> None:
        gate = MemoryGate(budget=10)
        async with gate.hold(1000):
            assert gate.used == 1000

    asyncio.run(main())


def test_a_spool_that_cannot_be_written_answers_451_and_reads_the_data_to_its_end(
    tmp_path: Path,
) -> None:
    """A full disk (here: the spool directory is gone) must not leave the rest of the data to
    be read as commands: a body line "RCPT TO:..." stays data."""
    policy = DataPolicy(None, 1000, True, tmp_path / "gone", spool_above=100)
    content = b"Subject: x\r\n\r\n" + b"RCPT TO:<victim@example.org>\r\n" * 20
    got, problem, rest = run(stuffed(content) + b"NOOP\r\n", policy)
    assert problem == replies.SPOOL_FAILED and got == b"" and rest == b"NOOP\r\n"
