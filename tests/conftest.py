"""Fixtures: the real parts (nsd, Postfix) once per session, a fresh relay per test.

Backends: a test (or module) marked `@pytest.mark.backends("sqlite", "postgresql")` runs once
per store backend; `fresh_store()` gives it an empty database of the backend (None: SQLite,
the default of each place), and every relay of `relay_factory` gets one of its own (or the
`store_url` passed to make(): two nodes on one database). Other tests run on SQLite only,
which keeps the suite within its time budget: the store and end-to-end tests are the ones
that run on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import RelayProcess
from tests.rig.fixtures import *  # noqa: F403  (nsd_server, postfix_rig, make_nsd, ...)
from tests.rig.nsd import NsdServer
from tests.rig.postfix import PostfixRig

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "store_backend" in metafunc.fixturenames:
        unknown = set(marker.args) - set(BACKENDS)
        assert not unknown, f"unknown backends {unknown}"
        metafunc.parametrize("store_backend", marker.args or BACKENDS, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def fresh_store(store_backend: str, request: pytest.FixtureRequest) -> Callable[[], str | None]:
    """Empty databases of this test's backend: a URL per call (None on SQLite)."""
    if store_backend == "sqlite":
        return lambda: None
    server = request.getfixturevalue("postgres_server")
    return server.create_database


@pytest.fixture(scope="session")
def nsd(nsd_server: NsdServer) -> NsdServer:
    """The session's nsd; tests may add records (DKIM keys) but never remove base ones."""
    return nsd_server


@pytest.fixture(scope="session")
def postfix(postfix_rig: PostfixRig) -> PostfixRig:
    return postfix_rig


def _relay(
    root: Path,
    nsd: NsdServer,
    postfix: PostfixRig,
    extra: dict | None = None,
    store_url: str | None = None,
    shop: bool = True,
) -> RelayProcess:
    extra = dict(extra or {})
    extra.setdefault("inbound", {}).setdefault("port", postfix.bounce_relay_port)
    relay = RelayProcess(root, nsd.nameserver, postfix.port, extra=extra, store_url=store_url)
    relay.init()
    if shop:
        relay.add_shop()
    return relay


@pytest.fixture
def relay_factory(
    tmp_path: Path,
    nsd: NsdServer,
    postfix: PostfixRig,
    fresh_store: Callable[[], str | None],
) -> Iterator:
    """Build (not start) a relay with extra relay.toml settings; stopped after the test.
    Each relay has a database of its own, unless `store_url` names one to share (nodes)."""
    made: list[RelayProcess] = []
    postfix.reset()

    def make(
        extra: dict | None = None,
        name: str = "relay",
        store_url: str | None = None,
        shop: bool = True,
    ) -> RelayProcess:
        url = store_url or fresh_store()
        relay = _relay(tmp_path / name, nsd, postfix, extra, url, shop)
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
