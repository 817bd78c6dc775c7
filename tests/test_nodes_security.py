"""Several nodes (SPEC "Several nodes"): what is taken back through one node is refused by the
other at once. Two `relay serve` nodes on one PostgreSQL (the rig's), each with its own
ports and data directory and the keys they must share; changes made with node A's CLI or
through node A's console, checked against node B's listeners.

Every check on node B reads the store: caches are keyed by what the store holds (the shops
version, the password hash in relay.passwords' cache of verified logins, the design digest),
so no node has to be told to forget anything and "at once" means the next request.
README "Several nodes" states it.
"""

from __future__ import annotations

import smtplib
import ssl

import pytest

from tests.api_client import Api, new_token
from tests.console_app import Client
from tests.harness import SHOP_PASSWORD, RelayProcess
from tests.rig.postgres import PostgresServer
from tests.rig.tools import free_port

OTHER = ("zweiter-shop", "bare-shop.example.com")


@pytest.fixture
def nodes(relay_factory, postgres_server: PostgresServer) -> tuple[RelayProcess, RelayProcess]:  # type: ignore[no-untyped-def]
    url = postgres_server.create_database()
    a: RelayProcess = relay_factory({"relay": {"workers": 1}, "store": {"node": "node-a"}},
                                    name="a", store_url=url)  # fmt: skip
    b: RelayProcess = relay_factory(
        {"relay": {"workers": 1}, "store": {"node": "node-b"}, "inbound": {"port": free_port()}},
        name="b",
        store_url=url,
        shop=False,
    )
    b.share_keys_of(a)  # the secret signs console cookies too: one relay, one secret
    a.add_shop(*OTHER)
    return a.start(), b.start()


def smtp_login(node: RelayProcess, shop: str, password: str = SHOP_PASSWORD) -> int:
    """The reply code of AUTH on the node's submission port (235: logged in)."""
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", node.submission_port, timeout=30) as client:
        client.starttls(context=tls)
        try:
            return client.login(shop, password)[0]
        except smtplib.SMTPAuthenticationError as refused:
            return refused.smtp_code


def console(node: RelayProcess, cookies: dict[str, str] | None = None) -> Client:
    return Client(f"http://127.0.0.1:{node.http_port}", dict(cookies or {}))


def test_what_node_a_takes_back_node_b_refuses_at_once(
    nodes: tuple[RelayProcess, RelayProcess],
) -> None:
    """One pair of nodes for four cases (two `relay serve` cost seconds to start)."""
    a, b = nodes
    revoked_token(a, b)
    logged_out_session(a, b)
    new_password(a, b)
    removed_shop(a, b)


def revoked_token(a: RelayProcess, b: RelayProcess) -> None:
    token = new_token(a, "mein-shop", "erp")
    on_b = Api(b.http_port, token)
    assert on_b.get("/api/v1/problems").status == 200  # made on A, valid on B
    a.run("shop", "token", "revoke", "mein-shop", "erp")
    answer = on_b.get("/api/v1/problems")
    assert answer.status == 401 and answer.content_type == "application/problem+json"


def logged_out_session(a: RelayProcess, b: RelayProcess) -> None:
    browser = console(a)
    assert browser.login("mein-shop", SHOP_PASSWORD).status == 303
    copied = console(b, browser.cookies)  # the same cookie behind a load balancer
    assert copied.get("/console/orders").status == 200
    logout = browser.post("/console/logout", {"csrf": browser.token()})
    assert logout.status == 303
    gone = copied.get("/console/orders")
    assert gone.status == 303 and gone.location.startswith("/console/login"), "session lives"


def new_password(a: RelayProcess, b: RelayProcess) -> None:
    """Node B has verified the old password (and remembers that); A's CLI sets a new one."""
    assert smtp_login(b, "mein-shop") == 235
    assert smtp_login(b, "mein-shop") == 235  # the remembered success: no scrypt this time
    browser = console(b)
    assert browser.login("mein-shop", SHOP_PASSWORD).status == 303
    a.run("shop", "set", "mein-shop", "--password", "a brand new password")
    assert smtp_login(b, "mein-shop") == 535, "the old password still logs in on node B"
    assert smtp_login(b, "mein-shop", "a brand new password") == 235
    assert browser.get("/console/orders").status == 303  # the old log-in's session ended


def removed_shop(a: RelayProcess, b: RelayProcess) -> None:
    """SMTP AUTH, an API token and a console session of the shop, all valid on node B, then
    the shop removed with node A's CLI: each is refused by node B on its next use."""
    shop = OTHER[0]
    assert smtp_login(b, shop) == 235
    api = Api(b.http_port, new_token(a, shop))
    assert api.get("/api/v1/problems").status == 200
    browser = console(b)
    assert browser.login(shop, SHOP_PASSWORD).status == 303
    assert browser.get("/console/orders").status == 200
    a.run("shop", "remove", shop, "--yes")
    assert smtp_login(b, shop) == 535, "a removed shop still logs in on node B"
    assert api.get("/api/v1/problems").status == 401
    ended = browser.get("/console/orders")
    assert ended.status == 303 and ended.location.startswith("/console/login")
    assert smtp_login(b, "mein-shop", "a brand new password") == 235  # the other shop goes on
