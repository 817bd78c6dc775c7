"""Load and compile the classification data files (rules.toml, reasons.toml)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
ORDERED_GATE = "?"  # suffix of a reason name in scan hits: an ordered rule may apply


@dataclass(frozen=True)
class ReasonRule:
    name: str
    ordered: tuple[tuple[str, ...], ...]  # fragments that must occur in this order
    veto: re.Pattern[str] | None  # phrases that cancel a text match
    status_decides: bool
    status_unless: tuple[str, ...]
    status_needs: tuple[str, ...]
    status_vetoed_by: tuple[str, ...]
    vetoed_by_probe: tuple[str, ...]
    needs_status: bool
    text_after: frozenset[str]
    text_not_after: frozenset[str]
    reply_codes: frozenset[str]
    also_text_of: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    status_names: dict[str, str]
    probe: tuple[str, ...]
    fallback: tuple[str, ...]
    reasons: dict[str, ReasonRule]
    scanner: re.Pattern[str]  # every literal phrase of every reason, as one trie
    owners: dict[str, frozenset[str]]  # literal phrase -> reasons it belongs to

    def scan(self, text: str) -> frozenset[str]:
        """Reasons with a literal phrase in the (lower-cased) text, in one pass.

        The trie regex finds, at every position, the longest phrase starting there;
        `owners` already includes the reasons of the shorter phrases it begins with.
        """
        found: set[str] = set()
        owners = self.owners
        for phrase in self.scanner.findall(text):
            found.update(owners[phrase])
        return frozenset(found)

    def says(self, reason: str, text: str, hits: frozenset[str] | None = None) -> bool:
        """Whether the text carries one of the reason's phrases (and none of its vetoes)."""
        rule = self.reasons.get(reason)
        if rule is None or not text:
            return False
        hits = self.scan(text) if hits is None else hits
        found = reason in hits or (
            reason + ORDERED_GATE in hits and any(_in_order(text, f) for f in rule.ordered)
        )
        return found and not (rule.veto and rule.veto.search(text))


def _in_order(text: str, fragments: tuple[str, ...]) -> bool:
    """Each fragment occurs after the previous one; linear, unlike a ".*?" regex.
    The first occurrence of a fragment is always the best place to continue from."""
    at = 0
    for fragment in fragments:
        at = text.find(fragment, at)
        if at < 0:
            return False
        at += len(fragment)
    return True


def trie_regex(literals: list[str]) -> str:
    """One regex for many literal phrases, factored by common prefixes, so that the
    engine tries one branch per character instead of every phrase at every position."""
    trie: dict = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_to_regex(trie)


def _trie_to_regex(node: dict) -> str:
    ends_here = "" in node
    branches = [re.escape(char) + _trie_to_regex(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if ends_here else body


def _compile_reason(name: str, entry: dict) -> ReasonRule:
    veto = entry.get("not_text", [])
    return ReasonRule(
        name=name,
        ordered=tuple(tuple(f) for f in entry.get("ordered", [])),
        veto=re.compile(trie_regex(veto)) if veto else None,
        status_decides=bool(entry.get("status_decides", False)),
        status_unless=tuple(entry.get("status_unless", [])),
        status_needs=tuple(entry.get("status_needs", [])),
        status_vetoed_by=tuple(entry.get("status_vetoed_by", [])),
        vetoed_by_probe=tuple(entry.get("vetoed_by_probe", [])),
        needs_status=bool(entry.get("needs_status", False)),
        text_after=frozenset(entry.get("text_after", [])),
        text_not_after=frozenset(entry.get("text_not_after", [])),
        reply_codes=frozenset(entry.get("reply_codes", [])),
        also_text_of=tuple(entry.get("also_text_of", [])),
    )


def _load_toml(name: str) -> dict:
    with (HERE / name).open("rb") as fh:
        return tomllib.load(fh)


def _with_prefix_owners(owners: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """phrase -> its reasons and those of every shorter phrase that is a prefix of it."""
    closed: dict[str, frozenset[str]] = {}
    for phrase in owners:
        names: set[str] = set()
        for end in range(1, len(phrase) + 1):
            names.update(owners.get(phrase[:end], ()))
        closed[phrase] = frozenset(names)
    return closed


@cache
def rule_set() -> RuleSet:
    rules = _load_toml("rules.toml")
    reasons = _load_toml("reasons.toml")["reason"]
    order = rules["order"]
    owners: dict[str, set[str]] = {}
    for name, entry in reasons.items():
        for phrase in entry.get("text", []):
            owners.setdefault(phrase, set()).add(name)
        for fragments in entry.get("ordered", []):
            # The first fragment gates the ordered check: "<name>?" in the hits says
            # it occurs somewhere, so the fragments are worth following.
            owners.setdefault(fragments[0], set()).add(name + ORDERED_GATE)
    return RuleSet(
        status_names=dict(rules["status"]),
        probe=tuple(order["probe"]),
        fallback=tuple(order["fallback"]),
        reasons={name: _compile_reason(name, entry) for name, entry in reasons.items()},
        scanner=re.compile(f"(?=({trie_regex(list(owners))}))"),
        owners=_with_prefix_owners(owners),
    )
