"""Provider-specific reading of replies (providers.toml): what Orange's "LPN007_426" or
Cox's "AUP#CXBL" mean is documented by them and by nobody else."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bounces.taxonomy import Reason, reason_named

_PATH = Path(__file__).with_name("providers.toml")


@dataclass(frozen=True)
class Rule:
    reason: Reason
    text: tuple[str, ...]
    status: frozenset[str]
    status_not: frozenset[str]
    classes: frozenset[str]
    commands: frozenset[str]

    def matches(self, text: str, status: str, reply: str, command: str) -> bool:
        if self.text and not any(t in text for t in self.text):
            return False
        if self.status and status not in self.status:
            return False
        if status and status in self.status_not:
            return False
        if self.classes and not ({status[:1], reply[:1]} & self.classes):
            return False
        return not self.commands or command in self.commands


@dataclass(frozen=True)
class Provider:
    name: str
    hosts: tuple[str, ...]
    label: re.Pattern[str] | None
    codes: dict[str, Reason]
    rules: tuple[Rule, ...]

    def serves_host(self, host: str) -> bool:
        return bool(host) and host.endswith(self.hosts)

    def serves_domain(self, domain: str) -> bool:
        return bool(domain) and any(h.endswith(domain) for h in self.hosts)

    def reason_for(self, text: str, status: str, reply: str, command: str) -> str:
        if self.label:
            for found in self.label.findall(text):
                if found in self.codes:
                    return self.codes[found]
        rule = next((r for r in self.rules if r.matches(text, status, reply, command)), None)
        return rule.reason if rule else ""


def _rule(entry: dict, where: str) -> Rule:
    return Rule(
        reason=reason_named(entry["reason"], where),
        text=tuple(t.lower() for t in entry.get("text", [])),
        status=frozenset(entry.get("status", [])),
        status_not=frozenset(entry.get("status_not", [])),
        classes=frozenset(entry.get("class", [])),
        commands=frozenset(entry.get("command", [])),
    )


@cache
def providers() -> tuple[Provider, ...]:
    return load_providers(_PATH)


def load_providers(path: Path) -> tuple[Provider, ...]:
    """Read the file; every reason it names must be one of SPEC's (taxonomy.Reason)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return tuple(_provider(p, path.name) for p in data["provider"])


def _provider(p: dict, source: str) -> Provider:
    where = f"{source} [{p['name']}]"
    return Provider(
        name=p["name"],
        hosts=tuple(h.lower() for h in p["hosts"]),
        label=re.compile(p["label"]) if p.get("label") else None,
        codes={k: reason_named(v, f"{where} codes {k}") for k, v in p.get("codes", {}).items()},
        rules=tuple(_rule(r, f"{where} rule #{n + 1}") for n, r in enumerate(p.get("rule", []))),
    )


@cache
def _all_hosts() -> tuple[str, ...]:
    return tuple(h for p in providers() for h in p.hosts)


def _may_serve(destination: str, remote: str, reporter: str) -> bool:
    """A cheap test before the per-provider one: does any known host fit at all?"""
    hosts = _all_hosts()
    if remote.endswith(hosts) or reporter.endswith(hosts):
        return True
    return bool(destination) and any(h.endswith(destination) for h in hosts)


def provider_reason(
    text: str, status: str, reply: str, command: str, destination: str, remote: str, reporter: str
) -> str:
    """The reason a known provider's reply stands for ('' if no provider or no rule)."""
    if not text:
        return ""
    remote = remote.split()[0] if remote.strip() else ""
    destination, remote, reporter = (v.lower().rstrip(".") for v in (destination, remote, reporter))
    if not _may_serve(destination, remote, reporter):
        return ""
    lowered = text.lower()
    # The server that replied knows its words best; then the recipient's provider
    # (its MX may carry another name); then the provider that wrote the report.
    for serves, value in (("host", remote), ("domain", destination), ("host", reporter)):
        for provider in providers():
            served = (
                provider.serves_host(value) if serves == "host" else provider.serves_domain(value)
            )
            reason = provider.reason_for(lowered, status, reply, command) if served else ""
            if reason:
                return reason
    return ""
