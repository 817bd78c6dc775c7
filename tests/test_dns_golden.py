"""Golden DNS cases: `relay dns check SHOP --json` against zones served by a real nsd.

Each case is a pair in tests/dns/cases/: `NN-name.zone` (one zone, its own origin) and
`NN-name.json` (the expected result, reduced to the stable fields: `verified`,
`dns_trouble`, `stale`; per result `check`, `status`, `detail` facts, the record to publish
in `expected`; plus `action_names`, the record names the action must name, and
`action_contains`, the substrings it must contain: the fix). The goldens are the
specification (RFC 7208, 6376, 7489), reviewed by hand: README.md there says why each case
exists and what it must give. `rt-*.zone` / `rt-*.json` are the round trips a shop owner
does: paste `relay dns show` into the zone, then `relay dns check` is all ok.

One private nsd per module serves every case zone plus bare parents (example.com,
example.org: SOA and NS only, so `_dmarc.example.com` is NXDOMAIN; example.net: the relay's
SPF include). Every shop gets the committed key tests/data/dns/golden-dkim.pem under the
selector `golden`, so the zones can hold its public key verbatim.

One relay (relay.toml as tests/harness.py writes it, its name server the private nsd) holds
one shop per case; a second relay for `"nameserver": "silent"` cases asks a name server that
never answers. No `relay serve` and no Postfix: this is the CLI alone. The checks run in
parallel once per module (a silent name server costs 3 s per lookup); each case is then
asserted in its own test.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from tests.harness import RelayProcess
from tests.keys_in_dns import txt
from tests.rig.nsd import NsdServer, silent_nameserver
from tests.rig.tools import free_port, require

CASES = Path(__file__).parent / "dns" / "cases"
KEY_PEM = Path(__file__).parent / "data" / "dns" / "golden-dkim.pem"
SELECTOR = "golden"
RELAY_INCLUDE = "_spf.relay.example.net"
BOUNCE_DOMAIN = "bounces.relay.example.net"

# Known bugs in code these tests do not own: the golden states what is right; the case is
# expected to fail (strict: once fixed, the xfail itself fails and this entry must go).
KNOWN_BUGS: dict[str, str] = {}


def _parent(origin: str, records: str = "") -> str:
    return (
        f"$ORIGIN {origin}.\n$TTL 60\n"
        "@ IN SOA ns1.example.net. hostmaster ( 2026010101 3600 600 86400 60 )\n"
        "  IN NS  ns1.example.net.\n" + records
    )


# The zones above the cases. No DMARC record at example.com or example.org: the DMARC lookup
# falls back to the organizational domain (RFC 7489 §6.6.3), which must find nothing there.
PARENT_ZONES = {
    "example.com": _parent("example.com"),
    "example.org": _parent("example.org"),
    "example.net": _parent(
        "example.net",
        f'ns1 IN A 127.0.0.1\n{RELAY_INCLUDE}. IN TXT "v=spf1 ip4:127.0.0.1 -all"\n'
        # The relay's bounce domain, where shops' custom return paths point (CNAME or MX).
        "relay IN A 127.0.0.1\n"
        f"{BOUNCE_DOMAIN}. IN MX 10 relay.example.net.\n"
        f'{BOUNCE_DOMAIN}. IN TXT "v=spf1 include:{RELAY_INCLUDE} -all"\n',
    ),
}


@dataclass(frozen=True)
class Case:
    name: str  # file stem, e.g. "01-correct"
    origin: str  # the zone's origin, e.g. "correct.example.com"
    zone: str
    golden: dict[str, Any]

    @property
    def shop(self) -> str:
        return f"case-{self.name}"

    @property
    def domain(self) -> str:
        return str(self.golden["domain"])


def _load(pattern: str) -> list[Case]:
    cases = []
    for path in sorted(CASES.glob(pattern)):
        text = path.read_text()
        origin = re.search(r"^\$ORIGIN\s+(\S+?)\.?\s*$", text, re.MULTILINE)
        assert origin, f"{path.name}: no $ORIGIN line"
        golden = json.loads(path.with_suffix(".json").read_text())
        cases.append(Case(path.stem, origin.group(1), text, golden))
    return cases


GOLDEN_CASES = _load("[0-9][0-9]-*.zone")
ROUND_TRIPS = _load("rt-*.zone")


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(reason=KNOWN_BUGS[case.name], strict=True)]
            if case.name in KNOWN_BUGS
            else [],
        )
        for case in cases
    ]


# --- the rig: one nsd, two relays, one shop per case -------------------------------------


@pytest.fixture(scope="module")
def case_nsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NsdServer]:
    require("nsd")
    zones = dict(PARENT_ZONES)
    for case in GOLDEN_CASES + ROUND_TRIPS:
        assert case.origin not in zones, f"{case.name}: origin {case.origin} served twice"
        zones[case.origin] = case.zone
    server = NsdServer(tmp_path_factory.mktemp("case-nsd"), zones).start()
    yield server
    server.stop()


def _relay(root: Path, nameserver: str) -> RelayProcess:
    # Only the CLI runs: nothing is delivered, so the MX port is any free one.
    return RelayProcess(root, nameserver, free_port()).init()


@pytest.fixture(scope="module")
def relays(
    tmp_path_factory: pytest.TempPathFactory, case_nsd: NsdServer
) -> Iterator[dict[str, RelayProcess]]:
    """Relays by name: "case" asks the case nsd, "silent" a name server that never answers."""
    root = tmp_path_factory.mktemp("golden-relays")
    with silent_nameserver() as silent:
        yield {
            "case": _relay(root / "case", case_nsd.nameserver),
            "silent": _relay(root / "silent", silent),
        }


def add_shop(relay: RelayProcess, shop: str, domain: str) -> None:
    """`relay shop add`, then the committed key instead of the generated one."""
    relay.run(
        "shop",
        "add",
        shop,
        "--domain",
        domain,
        "--sender",
        f"info@{domain}",
        "--sender-name",
        shop,  # one display name per shop (no shop sends under another's name)
        "--password",
        "golden-case-password",  # `shop add` takes 12 characters or more
    )
    conn = sqlite3.connect(relay.root / "var" / "relay.db", timeout=30)  # checks run in parallel
    with conn:
        conn.execute(
            "UPDATE shops SET dkim_selector = ?, dkim_private_key = ? WHERE name = ?",
            (SELECTOR, KEY_PEM.read_text(), shop),
        )
    conn.close()


@pytest.fixture(scope="module")
def checked(relays: dict[str, RelayProcess]) -> dict[str, subprocess.CompletedProcess[str]]:
    """`relay dns check SHOP --json` of every golden case, run in parallel."""

    def relay_of(case: Case) -> RelayProcess:
        return relays[case.golden.get("nameserver", "case")]

    def run(case: Case) -> subprocess.CompletedProcess[str]:
        add_shop(relay_of(case), case.shop, case.domain)
        return relay_of(case).run("dns", "check", case.shop, "--json", check=False)

    # The slow ones (silent name server) first, so that they overlap the rest.
    ordered = sorted(GOLDEN_CASES, key=lambda c: c.golden.get("nameserver") != "silent")
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = dict(zip([c.name for c in ordered], pool.map(run, ordered), strict=True))
    return done


# --- comparing a result with its golden ----------------------------------------------------


def assert_subset(actual: Any, expected: Any, where: str) -> None:
    """Every key of `expected` is in `actual` with that value; lists match item by item."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: no {key!r} in {actual!r}"
            assert_subset(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{where}: expected {len(expected)} items, got {actual!r}"
        )
        for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_subset(got, want, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def names_record(action: str, name: str) -> bool:
    """`name` appears as a whole name, not as the tail of a longer one (_a.x.com is not x.com)."""
    pattern = rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.[\w-])"
    return re.search(pattern, action, re.IGNORECASE) is not None


def offered_fix(action: str) -> str:
    """What the action asks to publish: the text after its last ': '."""
    return action.rsplit(": ", 1)[-1].strip().rstrip(".")


def assert_report(report: dict[str, Any], golden: dict[str, Any]) -> None:
    expected = copy.deepcopy(golden)
    results = expected.pop("results")
    shown = json.dumps(report, indent=2, ensure_ascii=False)
    assert_subset(report, expected, "report")
    checks = [r["check"] for r in report["results"]]
    assert checks == [r["check"] for r in results], shown
    for got, want in zip(report["results"], results, strict=True):
        names = want.pop("action_names", [])
        contains = want.pop("action_contains", [])
        assert_subset(got, want, got["check"])
        action = got["action"]
        if got["status"] == "ok":
            assert action == "", f"an ok result needs no action: {action!r}"
            continue
        assert action, f"{got['check']} is {got['status']} but says nothing to do"
        for name in names:
            assert names_record(action, name), (
                f"{got['check']}: action does not name {name}:\n{action}"
            )
        for text in contains:
            assert text in action, f"{got['check']}: action lacks {text!r}:\n{action}"
        if got["status"] != "unknown":
            # Telling a shop owner to publish what is already published fixes nothing.
            assert offered_fix(action) != got["found"].strip(), (
                f"{got['check']}: the fix offered is the record already published:\n{action}"
            )


# --- the golden cases ---------------------------------------------------------------------


def test_every_case_is_a_pair() -> None:
    stems = {p.stem for p in CASES.glob("*.zone")}
    assert stems == {p.stem for p in CASES.glob("*.json")}, "each .zone needs its .json"
    assert len(GOLDEN_CASES) >= 14 and len(ROUND_TRIPS) == 2
    readme = (CASES / "README.md").read_text()
    for stem in stems:
        assert f"`{stem}`" in readme, f"README.md does not say why {stem} exists"


@pytest.mark.parametrize("case", _params(GOLDEN_CASES))
def test_golden_case(case: Case, checked: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = checked[case.name]
    assert done.returncode == 0, f"relay dns check failed:\n{done.stdout}\n{done.stderr}"
    data = json.loads(done.stdout)
    assert len(data) == 1, "one shop domain, one report"
    assert_report(data[0], case.golden["expected"])


# --- round trip: paste `relay dns show` into the zone, then `relay dns check` is all ok -----


def _zone_of(name: str, origins: list[str]) -> str:
    """The served zone a record name belongs to: the longest origin it ends with."""
    matching = [o for o in origins if name == o or name.endswith("." + o)]
    assert matching, f"no zone for {name}"
    return max(matching, key=len)


def _drop_spf(zone: dns.zone.Zone, name: str) -> None:
    """Remove the SPF record at `name`: the owner edits it, never adds a second one."""
    node = zone.get_node(name + ".")
    rdataset = node and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
    if not rdataset:
        return
    keep = [r for r in rdataset if not b"".join(r.strings).lower().startswith(b"v=spf1")]
    zone.delete_rdataset(name + ".", dns.rdatatype.TXT)
    if keep:
        new = zone.find_rdataset(name + ".", dns.rdatatype.TXT, create=True)
        for rdata in keep:
            new.add(rdata, rdataset.ttl)


def paste(nsd: NsdServer, records: list[dict[str, str]]) -> None:
    """What a shop owner does with `relay dns show`: each record into its zone."""
    by_zone: dict[str, list[dict[str, str]]] = {}
    for record in records:
        by_zone.setdefault(_zone_of(record["name"], list(nsd.zones)), []).append(record)
    for origin, pasted in by_zone.items():
        zone = dns.zone.from_text(nsd.zones[origin], origin=origin + ".", relativize=False)
        lines = []
        for record in pasted:
            assert record["type"] in ("TXT", "CNAME"), record
            if record["type"] == "CNAME":
                lines.append(f"{record['name']}. 3600 IN CNAME {record['value']}.")
                continue
            if record["value"].lower().startswith("v=spf1"):
                _drop_spf(zone, record["name"])
            lines.append(f"{record['name']}. 3600 IN TXT {txt(record['value'])}")
        text = zone.to_text(relativize=False)
        nsd.set_zone(origin, f"$ORIGIN {origin}.\n{text}\n" + "\n".join(lines) + "\n")


@pytest.fixture
def restored_zones(case_nsd: NsdServer) -> Iterator[NsdServer]:
    """The case nsd, with every zone a test changes put back afterwards."""
    before = case_nsd.zones
    yield case_nsd
    for origin, text in before.items():
        if case_nsd.zones[origin] != text:
            case_nsd.set_zone(origin, text)


@pytest.mark.parametrize("case", _params(ROUND_TRIPS))
def test_round_trip(case: Case, relays: dict[str, RelayProcess], restored_zones: NsdServer) -> None:
    relay = relays["case"]
    add_shop(relay, case.shop, case.domain)
    assert not relay.json("dns", "check", case.shop)[0]["verified"]

    shown = relay.json("dns", "show", case.shop)
    assert [entry["domain"] for entry in shown] == [case.domain]
    records = shown[0]["records"]
    assert [{k: r[k] for k in ("name", "type", "value")} for r in records] == case.golden["show"]
    # Nothing at the shop's own domain is SPF: receivers never evaluate it for the relay's
    # mail (issue 13 item 7), so `dns show` leaves whatever SPF record the shop has alone.
    assert not [r for r in records if r["value"].startswith("v=spf1")]
    assert [r["need"] for r in records][-1] == "optional"  # the custom return path

    paste(restored_zones, records)
    after = relay.json("dns", "check", case.shop)
    assert len(after) == 1
    assert_report(after[0], case.golden["after_paste"])
    assert [r["status"] for r in after[0]["results"]] == ["ok", "ok", "ok", "ok"]
