"""An in-memory `Resolver`: records in a dict, for unit tests and dry runs.

It behaves like a recursive resolver in the ways the checks depend on:
- a name that has records, or has descendants with records, exists (an "empty
  non-terminal" such as `_domainkey.example.com` answers NODATA, RFC 8020);
  any other name is NXDOMAIN (`DnsNotFound`);
- TXT, MX, A, AAAA and PTR lookups follow CNAMEs;
- names listed in `temporary` raise `DnsTemporary` (SERVFAIL, timeout) for every type.
Every lookup is appended to `queries` as (name, type), so tests can assert that
nothing was asked at all.

    resolver = MemoryResolver({
        "shop.example": {
            "TXT": ["v=spf1 include:_spf.relay.example ~all"],
            "MX": [(10, "mx.shop.example")],
        },
        "mx.shop.example": {"A": ["192.0.2.25"], "AAAA": ["2001:db8::25"]},
        "s1._domainkey.shop.example": {"CNAME": "s1.keys.example"},
        "s1.keys.example": {"TXT": ["v=DKIM1; k=rsa; p=MIIB..."]},
    }, temporary=["_dmarc.shop.example"])

Names are case-insensitive and a trailing dot is ignored, as in DNS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dns_checks.resolver import DnsNotFound, DnsTemporary

_MAX_CNAME_CHAIN = 8


def _key(name: str) -> str:
    return name.rstrip(".").lower()


class MemoryResolver:
    def __init__(
        self,
        records: Mapping[str, Mapping[str, Any]] | None = None,
        temporary: Iterable[str] = (),
    ) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.temporary = {_key(name) for name in temporary}
        self.queries: list[tuple[str, str]] = []
        for name, by_type in (records or {}).items():
            for rtype, value in by_type.items():
                self.add(name, rtype, value)

    def add(self, name: str, rtype: str, value: Any) -> MemoryResolver:
        """Add records: a list for TXT/MX/A/AAAA/PTR (or one value), a string for CNAME."""
        entry = self.records.setdefault(_key(name), {})
        rtype = rtype.upper()
        if rtype == "CNAME":
            entry[rtype] = _key(value)
        else:
            values = value if isinstance(value, list) else [value]
            entry.setdefault(rtype, []).extend(values)
        return self

    def _exists(self, name: str) -> bool:
        suffix = "." + name
        return name in self.records or any(other.endswith(suffix) for other in self.records)

    def _lookup(self, name: str, rtype: str) -> list:
        name = _key(name)
        self.queries.append((name, rtype))
        for _ in range(_MAX_CNAME_CHAIN):
            if name in self.temporary:
                raise DnsTemporary(f"{name} {rtype}: SERVFAIL (simulated)")
            if not self._exists(name):
                raise DnsNotFound(f"{name}: NXDOMAIN")
            entry = self.records.get(name, {})
            if rtype in entry or "CNAME" not in entry:
                return list(entry.get(rtype, []))
            name = entry["CNAME"]
        raise DnsTemporary(f"{name}: CNAME chain too long")

    def txt(self, name: str) -> list[str]:
        return self._lookup(name, "TXT")

    def cname(self, name: str) -> str | None:
        key = _key(name)
        self.queries.append((key, "CNAME"))
        if key in self.temporary:
            raise DnsTemporary(f"{key} CNAME: SERVFAIL (simulated)")
        if not self._exists(key):
            raise DnsNotFound(f"{key}: NXDOMAIN")
        return self.records.get(key, {}).get("CNAME")

    def mx(self, name: str) -> list[tuple[int, str]]:
        # "." (the root) is the exchange of a null MX (RFC 7505); _key would make it "".
        return [(pref, _key(host) or ".") for pref, host in self._lookup(name, "MX")]

    def a(self, name: str) -> list[str]:
        return self._lookup(name, "A")

    def aaaa(self, name: str) -> list[str]:
        return self._lookup(name, "AAAA")

    def ptr(self, name: str) -> list[str]:
        return [_key(host) for host in self._lookup(name, "PTR")]
