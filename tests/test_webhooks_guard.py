"""The webhook URL guard (SSRF): what `check_url` refuses and why, names resolved by the test
nsd (tests/dns/hooks.example.org.zone). Connect-time re-checks are in test_webhooks_sender.py."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest

from config import build_config
from relay.dns import AsyncResolver
from relay.webhooks.addresses import Listener
from relay.webhooks.guard import UrlPolicy, UrlProblem, check_url, policy_from_config
from tests.rig.names import (
    HOOK_METADATA6_HOST,
    HOOK_METADATA_HOST,
    HOOK_MIXED_HOST,
    HOOK_PRIVATE_HOST,
    HOOK_RECEIVER_HOST,
)
from tests.rig.nsd import NsdServer

CLOSED = UrlPolicy(allow_private=False)
OPEN = UrlPolicy(allow_private=True)  # labs and tests: loopback and private networks allowed


def check(url: str, policy: UrlPolicy, nsd: NsdServer | None = None) -> UrlProblem | None:
    resolver = AsyncResolver([nsd.nameserver] if nsd else ["127.0.0.1:1"], timeout=2.0)
    return asyncio.run(check_url(url, policy, resolver))


def refused(url: str, policy: UrlPolicy, code: str, *words: str, nsd: NsdServer | None = None):
    problem = check(url, policy, nsd)
    assert problem is not None, f"{url} was accepted"
    assert problem.code == code, problem
    for word in words:
        assert word in problem.detail, problem.detail
    return problem


# --- the form of the URL (no DNS asked) ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code", "words"),
    [
        ("ftp://example.com/hook", "not-https", "https://"),
        ("http://example.com/hook", "not-https", "https://"),
        ("https://user:secret@example.com/hook", "userinfo", "user name or password"),
        ("https://user@example.com/hook", "userinfo", "user"),
        ("https://example.com/hook#part", "fragment", "fragment"),
        ("https://example.com/hook#", "fragment", "fragment"),
        ("https://example.com:0/hook", "port", "out of range"),
        ("https://example.com:65536/hook", "invalid", "Port"),
        ("https:///hook", "host", "no host"),
        ("https://exa mple.com/hook", "invalid", "spaces"),
        ("https://example.com/ho\nok", "invalid", "control"),
        ("https://-bad-.example.com/", "host", "not a valid host name"),
        ("https://[fe80::1%25eth0]/hook", "host", "zone"),
        ("https://example.com/" + "a" * 2100, "too-long", "2048"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url: str, code: str, words: str) -> None:
    refused(url, CLOSED, code, words)
    refused(url, OPEN, code, words)  # allow_private changes none of these


@pytest.mark.parametrize(
    ("url", "meant"),
    [
        ("https://2130706433/hook", "127.0.0.1"),  # decimal
        ("https://0177.0.0.1/hook", "127.0.0.1"),  # octal
        ("https://0x7f.0.0.1/hook", "127.0.0.1"),  # hex
        ("https://0x7f000001/hook", "127.0.0.1"),
        ("https://127.1/hook", "127.0.0.1"),  # short form
        ("https://0251.0376.0251.0376/hook", "169.254.169.254"),  # metadata, octal
        ("https://2852039166/hook", "169.254.169.254"),  # metadata, decimal
        ("https://012.0.0.1/hook", "10.0.0.1"),
    ],
)
def test_numeric_ip_spellings_are_refused_naming_what_they_mean(url: str, meant: str) -> None:
    """Parsers disagree about these (inet_aton, WHATWG, yarl): only the dotted-decimal form
    passes, whatever address the spelling stands for; the answer says which one it was."""
    refused(url, OPEN, "numeric-host", meant, "non-standard spelling")


# --- addresses written into the URL ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("https://100.100.100.200/", "Alibaba"),
        ("https://169.254.10.10/", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://[::]/", "unspecified"),
        ("https://224.0.0.1/", "multicast"),
        ("https://255.255.255.255/", "reserved"),
        ("https://240.0.0.1/", "reserved"),
        ("https://[::ffff:169.254.169.254]/", "IPv4-mapped"),
        ("https://[64:ff9b::a9fe:a9fe]/", "NAT64"),
        ("https://[::ffff:0.0.0.0]/", "unspecified"),
    ],
)
def test_addresses_refused_even_with_allow_private(url: str, words: str) -> None:
    refused(url, OPEN, "address", words)
    refused(url, CLOSED, "address", words)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("https://127.0.0.2/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped loopback
        ("https://[::127.0.0.1]/hook", "loopback"),  # IPv4-compatible
        ("https://10.0.0.1/hook", "private"),
        ("https://10.255.255.254/hook", "private"),
        ("https://172.16.5.4/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://100.64.0.1/hook", "private"),
        ("https://[fd12:3456::1]/hook", "private"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
    ],
)
def test_loopback_and_private_need_allow_private(url: str, words: str) -> None:
    refused(url, CLOSED, "address", words)
    assert check(url, OPEN) is None


def test_http_only_to_a_loopback_host_written_as_such() -> None:
    for url in ("http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://localhost:9/hook"):
        assert check(url, OPEN) is None, url
    refused("http://10.0.0.1/hook", OPEN, "not-https")  # private, but not on this machine
    refused("http://[::ffff:127.0.0.1]:9/hook", OPEN, "not-https")


def test_public_addresses_pass() -> None:
    for url in ("https://192.0.43.10/hook", "https://[2a00:1450:4001::1]/hook"):
        assert check(url, CLOSED) is None, url


# --- the relay's own listeners -----------------------------------------------------------------


def _config(tmp_path: Path, **webhooks: object):
    user = {
        "http": {"listen": "127.0.0.1:18025"},
        "submission": {"listen": ["127.0.0.1:12587"], "listen_tls": ["[::1]:12465"]},
        "inbound": {"listen": ["0.0.0.0:12525"]},
        "delivery": {"sending_ips": ["192.0.43.10"]},
        "webhooks": webhooks,
    }
    return build_config(user, tmp_path / "relay.toml")


def test_the_relays_own_listeners_are_refused_even_with_allow_private(tmp_path: Path) -> None:
    policy = policy_from_config(_config(tmp_path, allow_private=True))
    refused("http://127.0.0.1:18025/api/v1/", policy, "address", "own [http] listener")
    refused("http://localhost:18025/", policy, "address", "own [http] listener")
    refused("https://[::1]:12465/", policy, "address", "own [submission] listener")
    refused("http://127.0.0.1:12587/", policy, "address", "own [submission] listener")
    # [inbound] listens on 0.0.0.0: every address of this machine reaches it, its public one too
    refused("http://127.0.0.5:12525/", policy, "address", "own [inbound] listener")
    refused("https://192.0.43.10:12525/", policy, "address", "own [inbound] listener")
    refused("https://10.1.1.1:12525/", policy, "address", "own [inbound] listener")
    # other ports of the same machine are a receiver's, when allow_private says so
    assert check("http://127.0.0.1:18026/hook", policy) is None
    assert check("https://192.0.43.11:12525/hook", policy) is None  # another machine


def test_policy_from_config_reads_allow_private(tmp_path: Path) -> None:
    assert policy_from_config(_config(tmp_path)).allow_private is False  # the default
    policy = policy_from_config(_config(tmp_path, allow_private=True))
    assert policy.allow_private is True
    assert Listener("http", "127.0.0.1", 18025) in policy.listeners
    assert ipaddress.ip_address("192.0.43.10") in policy.own_addresses


# --- names resolved by DNS (the test nsd) ------------------------------------------------------


def test_a_name_for_the_metadata_service_is_refused(nsd: NsdServer) -> None:
    for policy in (CLOSED, OPEN):
        refused(
            f"https://{HOOK_METADATA_HOST}/hook",
            policy,
            "address",
            f"{HOOK_METADATA_HOST} resolves to 169.254.169.254",
            "metadata",
            nsd=nsd,
        )
        refused(f"https://{HOOK_METADATA6_HOST}/", policy, "address", "IPv4-mapped", nsd=nsd)


def test_a_name_for_a_private_address_needs_allow_private(nsd: NsdServer) -> None:
    url = f"https://{HOOK_PRIVATE_HOST}/hook"
    refused(url, CLOSED, "address", "10.20.30.40", "private", nsd=nsd)
    assert check(url, OPEN, nsd) is None


def test_one_bad_address_refuses_the_name(nsd: NsdServer) -> None:
    """mixed.hooks.example.org has 127.0.0.1 and 169.254.169.254: a POST could reach either."""
    refused(f"https://{HOOK_MIXED_HOST}/hook", OPEN, "address", "169.254.169.254", nsd=nsd)


def test_a_name_for_loopback(nsd: NsdServer) -> None:
    url = f"https://{HOOK_RECEIVER_HOST}/hook"
    refused(url, CLOSED, "address", "resolves to 127.0.0.1", "loopback", nsd=nsd)
    assert check(url, OPEN, nsd) is None
    # a name is not "written as loopback": http:// stays refused, the name could change
    refused(f"http://{HOOK_RECEIVER_HOST}/hook", OPEN, "not-https", nsd=nsd)


def test_names_that_do_not_resolve(nsd: NsdServer, silent_ns: str) -> None:
    refused("https://nothing.hooks.example.org/", OPEN, "unresolvable", "NXDOMAIN", nsd=nsd)
    resolver = AsyncResolver([silent_ns], timeout=0.5)
    problem = asyncio.run(check_url(f"https://{HOOK_RECEIVER_HOST}/", OPEN, resolver))
    assert problem is not None and problem.code == "dns", problem


def test_a_problem_is_an_rfc9457_body() -> None:
    problem = refused("https://169.254.169.254/", OPEN, "address")
    body = problem.as_problem()
    assert body["status"] == 422 and body["field"] == "url" and body["code"] == "address"
    assert body["title"] and "169.254.169.254" in body["detail"]
