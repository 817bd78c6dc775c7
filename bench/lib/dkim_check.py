"""Proof that the "Postfix + OpenDKIM" column really signs: one message through it to a
second smtp-sink that keeps what it gets (`-d`), verified with dkimpy against OpenDKIM's key.
"""

from __future__ import annotations

from pathlib import Path

import dkim

from bench.lib.procs import wait_for
from tests.rig.smtp_sink import SmtpSink

CHECK_DOMAIN = "dkim-check.example.org"


class CaptureSink(SmtpSink):
    """smtp-sink that writes every message to `<workdir>/dump/msg.<random>`."""

    def __init__(self, workdir: Path) -> None:
        self.dump = workdir / "dump"
        super().__init__(workdir, options=("-d", f"{self.dump}/msg."))

    def start(self) -> CaptureSink:
        self.dump.mkdir(parents=True, exist_ok=True)
        self.dump.chmod(0o777)  # smtp-sink runs as nobody
        super().start()
        return self

    def messages(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.dump.glob("msg.*"))]


def verify_signed(sink: CaptureSink, txt_record: bytes, timeout: float = 30) -> str:
    """Wait for one message in `sink`; '' when its DKIM signature verifies, else why not."""
    if not wait_for(lambda: sink.messages() != [], timeout, 0.1):
        return f"no message reached the capture sink in {timeout:.0f} s"
    raw = sink.messages()[0]
    # The dump has LF line ends and smtp-sink's own X-* lines on top (unsigned, harmless).
    message = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if b"\r\nDKIM-Signature:" not in message and not message.startswith(b"DKIM-Signature:"):
        return "the message carries no DKIM-Signature"

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return txt_record

    ok = dkim.verify(message, dnsfunc=dns)
    return "" if ok else "the DKIM-Signature does not verify"
