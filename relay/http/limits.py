"""How many connections the HTTP listener holds, and for how long an idle one stays open.

aiohttp keeps an idle connection an hour by default and takes any number of them, so anyone
who can reach the port could hold thousands of sockets (and their memory) open for free. An
idle connection (before its first request, or between requests) is closed after
KEEPALIVE_SECONDS; past MAX_CONNECTIONS open at once, a new one is answered `503` and closed
at once, which RFC 9110 15.6.4 allows for a server that is overloaded for the moment.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

MAX_CONNECTIONS = 512  # the opt-out pages, the API and the console of one relay
KEEPALIVE_SECONDS = 15.0
_BUSY_TEXT = b"Too many connections; try again in a few seconds.\r\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
    b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT)
)


class CappedSite(web.BaseSite):
    """A TCP site (as aiohttp's TCPSite) that hands a connection past `limit` to `_Busy`."""

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, limit: int, reuse_port: bool
    ) -> None:
        super().__init__(runner)
        assert runner.server is not None, "set the runner up first"
        self.http, self.host, self.port = runner.server, host, port
        self.limit, self.reuse_port = limit, reuse_port

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()  # registers the site: runner.cleanup() stops it
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, self.host, self.port, reuse_port=self.reuse_port or None
        )

    def _protocol(self) -> asyncio.BaseProtocol:
        if len(self.http.connections) >= self.limit:
            return _Busy()
        return self.http()


class _Busy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()
