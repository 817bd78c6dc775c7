"""Fixtures: the real parts (nsd, Postfix) once per session, a fresh relay per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import RelayProcess
from tests.rig.fixtures import *  # noqa: F403  (nsd_server, postfix_rig, make_nsd, ...)
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig


@pytest.fixture(scope="session")
def nsd(nsd_server: NsdServer) -> NsdServer:
    """The session's nsd; tests may add records (DKIM keys) but never remove base ones."""
    return nsd_server


@pytest.fixture(scope="session")
def postfix(postfix_rig: PostfixRig) -> PostfixRig:
    return postfix_rig


def _relay(
    root: Path, nsd: NsdServer, postfix: PostfixRig, extra: dict | None = None
) -> RelayProcess:
    extra = dict(extra or {})
    extra.setdefault("inbound", {})["port"] = postfix.bounce_relay_port
    relay = RelayProcess(root, nsd.nameserver, postfix.port, extra=extra).init()
    relay.add_shop()
    return relay


@pytest.fixture
def relay_factory(tmp_path: Path, nsd: NsdServer, postfix: PostfixRig) -> Iterator:
    """Build (not start) a relay with extra relay.toml settings; stopped after the test."""
    made: list[RelayProcess] = []
    postfix.reset()

    def make(extra: dict | None = None, name: str = "relay") -> RelayProcess:
        relay = _relay(tmp_path / name, nsd, postfix, extra)
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.stop()


@pytest.fixture
def relay(relay_factory) -> RelayProcess:  # type: ignore[no-untyped-def]
    return relay_factory().start()


@pytest.fixture
def relay_small(relay_factory) -> RelayProcess:  # type: ignore[no-untyped-def]
    """Small limits: 20 KB messages, two concurrent sessions (one worker: the cap is split
    between workers, and the test counts sessions of one process)."""
    return relay_factory(
        {
            "relay": {"workers": 1},
            "submission": {"max_message_size": "20KB", "max_sessions": 2},
        }
    ).start()
