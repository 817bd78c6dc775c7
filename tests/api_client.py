"""A shop's software calling the relay's JSON API, for tests: plain HTTP over loopback
(http.client), each exchange kept so a test can check it against the OpenAPI document."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any

from tests.harness import RelayProcess


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str  # with the query
    headers: dict[str, str]
    body: bytes
    status: int
    answer_headers: dict[str, str]
    answer: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.answer) if self.answer else None

    @property
    def content_type(self) -> str:
        return self.answer_headers.get("Content-Type", "").split(";")[0]


@dataclass
class Api:
    port: int
    token: str | None = None
    log: list[Exchange] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Exchange:
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer:
            sent.setdefault("Authorization", f"Bearer {bearer}")
        data = raw if raw is not None else b""
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            if sent.get("Transfer-Encoding") == "chunked":  # no Content-Length: read to the end
                conn.request(method, path, body=iter([data]), headers=sent, encode_chunked=True)
            else:
                conn.request(method, path, body=data or None, headers=sent)
            response = conn.getresponse()
            exchange = Exchange(
                method,
                path,
                sent,
                data,
                response.status,
                dict(response.getheaders()),
                response.read(),
            )
        finally:
            conn.close()
        self.log.append(exchange)
        return exchange

    def get(self, path: str, **kw: Any) -> Exchange:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Exchange:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Exchange:
        return self.call("PUT", path, body, **kw)


def new_token(relay: RelayProcess, shop: str, name: str = "") -> str:
    args = ["shop", "token", "create", shop, *(["--name", name] if name else [])]
    return relay.json(*args)["token"]


def api_for(relay: RelayProcess, shop: str = "mein-shop") -> Api:
    return Api(relay.http_port, new_token(relay, shop))


def raw_message(
    to: str,
    *,
    kind: str = "payment-info",
    order: str = "1001",
    sender: str = "info@shop.example.com",
    body: str = "Guten Tag,\nbitte zahlen Sie.\n",
    subject: str = "Ihre Bestellung",
) -> str:
    return (
        f"From: Mein Shop <{sender}>\nTo: {to}\nSubject: {subject}\n"
        f"X-Relay-Kind: {kind}\nX-Relay-Order: {order}\n\n{body}"
    )
