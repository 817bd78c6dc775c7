"""Reading a submitted header section (relay.prepare.headers) stays linear in its size."""

from __future__ import annotations

import time

from relay.prepare.headers import RawMessage


def test_a_field_folded_into_64000_lines_is_read_at_once() -> None:
    """The most continuation lines the 256 KB header section holds. Each one once copied the
    whole field again: ~0.4 s of CPU for this message here; linear, ~0.03 s. CPU
    time of this process, so other processes on the machine do not count."""
    folded = b"\r\n".join([b"X-Long: w"] + [b" w"] * 64_000)
    data = b"From: a@example.org\r\n" + folded + b"\r\n\r\nbody\r\n"
    started = time.process_time()
    message = RawMessage.parse(data)
    took = time.process_time() - started
    assert (message.get("x-long") or "").count("w") == 64_001
    assert took < 0.15, f"{took:.2f} s of CPU for one folded field"
