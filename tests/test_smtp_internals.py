"""Issue 9 item 13: what the relay relies on in aiosmtpd and aiosmtplib is checked, and each
fast path is shown to run (a test here fails if one is silently skipped).

- aiosmtpd: pinned (pyproject.toml) for the one private path left, our DATA reader; the pins
  are checked at import. AUTH uses the handler-level mechanisms, public API.
- aiosmtplib: public methods only (execute_command, protocol.write, protocol.read_response),
  checked at import; data() with its regex rewrites is not used.
- dkimpy: no longer used by the relay (tests/test_dkim_sign.py: nothing of it is patched).

In-process: our SMTP protocol and a minimal SMTP server on loopback ports.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import re
from pathlib import Path

import aiosmtpd
import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP

from relay.delivery import client as delivery_client
from relay.delivery.client import ClientSettings, Envelope, deliver_batch, loaded
from relay.delivery.outcome import Attempt
from relay.delivery.routing import MxHost
from relay.smtp import protocol
from relay.smtp.admission import Admission, Limits
from relay.smtp.data import DataPolicy, Spool
from relay.smtp.mechanisms import ShopMechanisms
from relay.smtp.protocol import HandlerBase, RelaySMTP

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_the_aiosmtpd_pins_hold_and_a_change_stops_the_import(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    protocol.check_pinned()
    monkeypatch.setattr(aiosmtpd, "__version__", "1.4.7")
    with pytest.raises(ImportError, match=re.escape("needs aiosmtpd 1.4.6")):
        protocol.check_pinned()
    monkeypatch.setattr(aiosmtpd, "__version__", protocol.AIOSMTPD_VERSION)

    async def smtp_DATA(self, arg: str, extra: int) -> None:  # type: ignore[no-untyped-def]
        """An upstream change of the method our reader replaces."""

    monkeypatch.setattr(SMTP, "smtp_DATA", smtp_DATA)
    with pytest.raises(ImportError, match=r"SMTP\.smtp_DATA\(self, arg: .str., extra: .int.\)"):
        protocol.check_pinned()


def test_the_aiosmtplib_methods_used_are_checked_at_import(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def read_response(self, timeout_seconds: float) -> None:  # type: ignore[no-untyped-def]
        """A renamed parameter: our DATA would call it wrongly."""

    monkeypatch.setattr(aiosmtplib.protocol.SMTPProtocol, "read_response", read_response)
    with pytest.raises(ImportError, match="read_response"):
        importlib.reload(delivery_client)
    monkeypatch.undo()
    importlib.reload(delivery_client)


class _Recorder(HandlerBase, ShopMechanisms):
    def __init__(self) -> None:
        self.contents: list[object] = []
        self.authenticator = self

    async def authenticate(
        self, peer: object, credentials: object, mechanism: str
    ) -> aiosmtpd.smtp.AuthResult:
        return aiosmtpd.smtp.AuthResult(success=True, auth_data="shop")

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        content = envelope.content
        self.contents.append((type(content), content.on_disk, content.to_bytes()))
        return "250 2.0.0 Ok"


async def _session(port: int, lines: list[bytes]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = [(await reader.readline()).decode()]
    for line in lines:
        writer.write(line)
        if line.endswith(b"\r\n") and not line.startswith((b"X", b"y")):
            while True:
                reply = (await asyncio.wait_for(reader.readline(), 10)).decode()
                if reply[3:4] != "-":
                    replies.append(reply.strip())
                    break
    writer.close()
    return replies


def _serve_and_talk(tmp_path: Path, lines: list[bytes]) -> tuple[list[str], _Recorder]:
    handler = _Recorder()

    async def main() -> list[str]:
        policy = DataPolicy(None, 1000, True, tmp_path, spool_above=1000)
        server = await asyncio.get_running_loop().create_server(
            lambda: RelaySMTP(
                handler,
                admission=Admission(Limits(5, 4, 4, 30)),
                data=policy,
                auth_required=True,
                auth_require_tls=False,
            ),
            "127.0.0.1",
            0,
        )
        try:
            return await _session(server.sockets[0].getsockname()[1], lines)
        finally:
            server.close()

    return asyncio.run(main()), handler


def test_our_data_reader_runs_and_aiosmtpds_public_auth_hooks_are_used(tmp_path: Path) -> None:
    token = base64.b64encode(b"\0shop\0secret").decode()
    body = b"".join(b"y" * 70 + b"\r\n" for _ in range(40))  # 2.8 KB: beyond spool_above
    replies, handler = _serve_and_talk(
        tmp_path,
        [
            b"EHLO client.example.org\r\n",
            f"AUTH PLAIN {token}\r\n".encode(),
            b"MAIL FROM:<a@shop.example.com>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
            b"DATA\r\n",
            b"Subject: x\r\n\r\n" + body + b"..dot\r\n.\r\n",
            b"MAIL FROM:<a@shop.example.com>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
            b"DATA\r\n",
            b"Subject: x\r\n\r\n" + b"z" * 1000 + b"\r\n.\r\n",
        ],
    )
    assert replies[2].startswith("235 2.7.0"), replies  # our handler's auth_PLAIN answered
    assert replies[6] == "250 2.0.0 Ok", replies
    # Spooled to a file by our reader (aiosmtpd's would hand over bytes), dot unstuffed.
    assert handler.contents == [(Spool, True, b"Subject: x\r\n\r\n" + body + b".dot\r\n")]
    # aiosmtpd's reader would answer "500 Line too long (see RFC5321 4.5.3.1.6)".
    assert replies[-1].startswith("550 5.6.0 Message refused: line 3 is longer"), replies


def test_fast_path_parses_paths_like_aiosmtpd() -> None:
    async def build() -> tuple[RelaySMTP, SMTP]:
        ours = RelaySMTP(
            object(),
            admission=Admission(Limits(5, 4, 4, 30)),
            data=DataPolicy(None, None, True, None),
        )
        return ours, SMTP(object())

    ours, stock = asyncio.run(build())
    for arg in [
        "<a@b.example>",
        "<>",
        "<> SIZE=10",
        "<a@b.example>  BODY=8BITMIME",
        "<@r.example:a@b.example>",
        '<"x y"@b.example>',
        "a@b.example",
        "<a@[127.0.0.1]>",
        "<" + "x" * 70 + "@b.example>",
    ]:
        assert ours._getaddr(arg) == stock._getaddr(arg), arg


def test_the_path_fast_path_is_the_one_aiosmtpd_calls(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """aiosmtpd's own path parser is made to fail: MAIL and RCPT with everyday paths still
    pass, so our _getaddr ran. Fails if aiosmtpd stopped calling it."""

    def no(*args: object) -> None:
        raise AssertionError("aiosmtpd's path parser ran")

    monkeypatch.setattr(aiosmtpd.smtp, "get_angle_addr", no)
    token = base64.b64encode(b"\0shop\0secret").decode()
    replies, _ = _serve_and_talk(
        tmp_path,
        [
            b"EHLO client.example.org\r\n",
            f"AUTH PLAIN {token}\r\n".encode(),
            b"MAIL FROM:<a@shop.example.com> BODY=8BITMIME\r\n",
            b"RCPT TO:<b@example.org>\r\n",
        ],
    )
    assert replies[3:] == ["250 OK", "250 OK"], replies


def test_session_setup_reads_our_short_attribute_lists(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """aiosmtpd builds its tables per connection from dir() and inspect.getmembers(); ours list
    only the names it looks for. Fails if aiosmtpd stops asking (the speed-up would be gone)."""
    calls: list[str] = []
    real = protocol._names

    def counting(cls: type, prefixes: tuple[str, ...]) -> list[str]:
        calls.append(cls.__name__)
        return real(cls, prefixes)

    monkeypatch.setattr(protocol, "_names", counting)

    async def build() -> RelaySMTP:
        return RelaySMTP(
            _Recorder(),
            admission=Admission(Limits(5, 4, 4, 30)),
            data=DataPolicy(None, None, True, None),
            auth_required=True,
            auth_require_tls=False,
        )

    session = asyncio.run(build())
    assert "RelaySMTP" in calls and "_Recorder" in calls
    assert {"DATA", "AUTH", "EHLO", "MAIL", "RCPT", "STARTTLS"} <= set(session._smtp_methods)
    mechanisms = session._auth_methods
    assert set(mechanisms) == {"PLAIN", "LOGIN"}
    assert not mechanisms["PLAIN"].is_builtin and not mechanisms["LOGIN"].is_builtin
    assert set(session._handle_hooks) == {"DATA"}


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, got: list) -> None:  # type: ignore[type-arg]
    writer.write(b"220 mx.example.org ESMTP\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"EHLO":
            writer.write(b"250-mx.example.org\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            await writer.drain()
            got.append(await reader.readuntil(b"\r\n.\r\n"))
            writer.write(b"250 2.0.0 queued\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            writer.close()
            return
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()


def test_delivery_sends_data_without_aiosmtplibs_data(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("aiosmtplib's data() path was used")

    monkeypatch.setattr(aiosmtplib.protocol.SMTPProtocol, "execute_data_command", forbidden)
    monkeypatch.setattr(aiosmtplib.SMTP, "data", forbidden)
    message = b".Punkt am Anfang\r\nSubject: x\r\n\r\nZeile\r\n.\r\n..zwei\r\nEnde\r\n"
    got: list[bytes] = []

    async def main() -> list[Attempt]:
        server = await asyncio.start_server(lambda r, w: _sink(r, w, got), "127.0.0.1", 0)
        settings = ClientSettings(
            "relay.example.net", server.sockets[0].getsockname()[1], 5, 5, 5, False
        )
        attempts: list[Attempt] = []

        async def report(_envelope: Envelope, attempt: Attempt) -> None:
            attempts.append(attempt)

        envelope = Envelope(1, "b-1@bounces.example.net", "max@example.org", loaded(message))
        await deliver_batch(
            [MxHost("mx.example.org", 10, ("127.0.0.1",))], [envelope], settings, report
        )
        server.close()
        return attempts

    attempts = asyncio.run(main())
    assert [(a.reply.code, a.reply.status) for a in attempts] == [(250, "2.0.0")]
    # RFC 5321 4.5.2: every line starting with "." got one more; the end is CRLF.CRLF.
    assert got == [
        b"..Punkt am Anfang\r\nSubject: x\r\n\r\nZeile\r\n..\r\n...zwei\r\nEnde\r\n.\r\n"
    ]
