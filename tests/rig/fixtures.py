"""pytest fixtures of the real-parts rig; the lead's conftest does

    from tests.rig.fixtures import *  # noqa: F403

Fixtures (all servers bind 127.0.0.1 only, on free ports):

- nsd_server (session) -> NsdServer serving tests/dns/*.zone. Read-only: a
  test that changes zones uses make_nsd.
- make_nsd (function) -> factory(zones=None, *, base=True) -> started NsdServer;
  `zones` (origin -> text) are added to / replace the base zones (or stand
  alone with base=False). Stopped after the test.
- silent_ns (function) -> "127.0.0.1:PORT" of a name server that never answers.
- postfix_rig (session) -> PostfixRig on `.port`; DSNs and mail for
  bounces.relay.example.net go to 127.0.0.1:`.bounce_relay_port` (the relay
  inbound a test starts there).
- clean_postfix (function) -> the same PostfixRig after `.reset()`: empty queue
  and maildirs, default defer table.
- make_postfix (function) -> factory(**PostfixRig keyword arguments) -> started
  PostfixRig of its own. Stopped (and its files removed) after the test.
- smtp_sink (function) -> started SmtpSink (smtp-sink on `.port`, `.count`).
- postgres_server (session) -> a private PostgreSQL (PostgresServer) on a loopback port.
- postgres_url (function) -> the URL of a new empty database on that server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.rig.nsd import NsdServer, base_zones, silent_nameserver
from tests.rig.postfix import PostfixRig
from tests.rig.postgres import PostgresServer
from tests.rig.smtp_sink import SmtpSink
from tests.rig.tools import require, require_root

__all__ = [
    "clean_postfix",
    "make_nsd",
    "make_postfix",
    "nsd_server",
    "postfix_rig",
    "postgres_server",
    "postgres_url",
    "silent_ns",
    "smtp_sink",
]

MakeNsd = Callable[..., NsdServer]
MakePostfix = Callable[..., PostfixRig]


@pytest.fixture(scope="session")
def nsd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NsdServer]:
    require("nsd")
    server = NsdServer(tmp_path_factory.mktemp("nsd"), base_zones()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeNsd]:
    require("nsd")
    servers: list[NsdServer] = []

    def make(zones: Mapping[str, str] | None = None, *, base: bool = True) -> NsdServer:
        all_zones = {**(base_zones() if base else {}), **(zones or {})}
        server = NsdServer(tmp_path_factory.mktemp("nsd"), all_zones)
        servers.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def silent_ns() -> Iterator[str]:
    with silent_nameserver() as address:
        yield address


@pytest.fixture(scope="session")
def postfix_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostfixRig]:
    require("postfix", "postqueue", "postsuper")
    require_root("the Postfix rig")
    rig = PostfixRig(tmp_path_factory.mktemp("postfix"))
    try:
        yield rig.start()
    finally:
        rig.cleanup()


@pytest.fixture
def clean_postfix(postfix_rig: PostfixRig) -> PostfixRig:
    postfix_rig.reset()
    return postfix_rig


@pytest.fixture
def make_postfix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakePostfix]:
    require("postfix", "postqueue", "postsuper")
    require_root("the Postfix rig")
    rigs: list[PostfixRig] = []

    def make(**kwargs: Any) -> PostfixRig:
        rig = PostfixRig(tmp_path_factory.mktemp("postfix"), **kwargs)
        rigs.append(rig)
        return rig.start()

    try:
        yield make
    finally:
        for rig in rigs:
            rig.cleanup()


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    require("smtp-sink")
    with SmtpSink(tmp_path / "smtp-sink") as sink:
        yield sink


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()
