"""Load, check and compile the classification data files (rules.toml, reasons.toml).

Every reason a file names is checked against the closed set (taxonomy.Reason) when the
files are loaded: a misspelt or retired name (Sisimai's "speeding") stops the import with
the file and key to fix, instead of flowing out as a reason nobody knows.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bounces.taxonomy import reason_named

HERE = Path(__file__).parent
ORDERED_GATE = "?"  # suffix of a reason name in scan hits: an ordered rule may apply
# Keys of a [reason.NAME] entry that name other reasons.
_REASON_LISTS = ("status_unless", "status_needs", "status_vetoed_by", "vetoed_by_probe")
_REASON_LISTS += ("also_text_of",)


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
    only_in_reports: bool  # its words describe a report (a give-up, a delay), never a live reply


@dataclass(frozen=True)
class RuleSet:
    status_names: dict[str, str]
    probe: tuple[str, ...]
    fallback: tuple[str, ...]
    status_in_reports: dict[str, str]  # what a code means when a report quotes it
    report_category: dict[str, str]  # a reporting MTA's own failure classes -> reasons
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
        only_in_reports=bool(entry.get("only_in_reports", False)),
    )


def _load_toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _merge_phrases(reasons: dict[str, dict], extra: list[dict], source: str) -> None:
    """Add each [[phrases]] entry (reason, why, text, ordered) to its reason's entry."""
    for number, entry in enumerate(extra):
        where = f"{source} [[phrases]] #{number + 1}"
        name = reason_named(str(entry.get("reason", "")), where)
        if not str(entry.get("why", "")).strip():
            raise ValueError(f"{where}: says no `why` (where the wording comes from)")
        target = reasons.setdefault(name, {})
        target["text"] = [*target.get("text", []), *entry.get("text", [])]
        target["ordered"] = [*target.get("ordered", []), *entry.get("ordered", [])]


def check_reasons(
    rules: dict, reasons: dict[str, dict], rules_name: str, reasons_name: str
) -> None:
    """Every reason named anywhere in the two files must be one of SPEC's."""
    for key in ("probe", "fallback"):
        for name in rules["order"][key]:
            reason_named(name, f"{rules_name} [order] {key}")
    for status, name in rules["status"].items():
        reason_named(name, f'{rules_name} [status] "{status}"')
    for status, name in rules["status_in_reports"].items():
        reason_named(name, f'{rules_name} [status_in_reports] "{status}"')
    for category, name in rules["report_category"].items():
        reason_named(name, f'{rules_name} [report_category] "{category}"')
    for name, entry in reasons.items():
        reason_named(name, f"{reasons_name} [reason.{name}]")
        for key in _REASON_LISTS:
            for other in entry.get(key, []):
                reason_named(other, f"{reasons_name} [reason.{name}] {key}")


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
    return load_rule_set(HERE / "rules.toml", HERE / "reasons.toml")


def load_rule_set(rules_path: Path, reasons_path: Path) -> RuleSet:
    """Read, check and compile the two files (rule_set() caches the package's own)."""
    rules = _load_toml(rules_path)
    data = _load_toml(reasons_path)
    reasons = data["reason"]
    _merge_phrases(reasons, data.get("phrases", []), reasons_path.name)
    check_reasons(rules, reasons, rules_path.name, reasons_path.name)
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
        status_in_reports=dict(rules["status_in_reports"]),
        report_category=dict(rules["report_category"]),
        reasons={name: _compile_reason(name, entry) for name, entry in reasons.items()},
        scanner=re.compile(f"(?=({trie_regex(list(owners))}))"),
        owners=_with_prefix_owners(owners),
    )
