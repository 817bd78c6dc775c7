"""A raw SMTP client for tests that must send what well-behaved clients never send."""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl


class RawSMTP:
    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        implicit_tls: bool = False,
        source: str | None = None,  # a loopback source address other than 127.0.0.1
    ) -> None:
        bind = (source, 0) if source else None
        sock = socket.create_connection((host, port), timeout=20, source_address=bind)
        self.sock: socket.socket | ssl.SSLSocket = (
            _client_tls().wrap_socket(sock) if implicit_tls else sock
        )
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> str:
        """One complete (multi-line) reply as text."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return "\n".join(lines) or "<closed>"
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def cmd(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self) -> str:
        answer = self.cmd("STARTTLS")
        self.sock = _client_tls().wrap_socket(self.sock)
        return answer

    def login(self, user: str, password: str) -> str:
        self.cmd("EHLO client.example.org")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.cmd("QUIT")
        self.sock.close()


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the relay's dev certificate is self-signed
    return context
