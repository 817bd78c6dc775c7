"""Decide the Sisimai reason for one failed recipient from all the evidence at hand.

The order and guards are data (rules.toml, reasons.toml); this module is the small
interpreter. It follows Sisimai's two passes so that results compare with it:
first "probes" that may trust the status code, then text-only fallbacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bounces.providers import provider_reason
from bounces.rules import ORDERED_GATE, ReasonRule, RuleSet, rule_set
from bounces.taxonomy import Reason

# Reasons a report parser may suggest but which the rules may still refine.
REFINABLE = frozenset(
    {"", "undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror"}
    | {"hostunknown", "userunknown"}
)
_VAGUE = frozenset({"", "undefined", "onhold"})
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Evidence:
    status: str = ""  # enhanced status code chosen for this recipient ("" if none)
    text: str = ""  # the remote server's reply / diagnostic, as found
    command: str = ""  # SMTP command the reply answered (RCPT, DATA, ...), "" unknown
    reply: str = ""  # SMTP reply code ("550"), "" unknown
    action: str = ""  # RFC 3464 Action (failed, delayed, ...)
    spec: str = "SMTP"  # diagnostic type: SMTP, X-UNIX, X-POSTFIX, ...
    hint: str = ""  # reason suggested by a report detector
    destination: str = ""  # the recipient's domain
    remote: str = ""  # the remote MTA that replied (host name)
    reporter: str = ""  # the MTA that wrote the report (Reporting-MTA)
    # True: the reply is quoted in a report (a DSN, a text bounce), which comes after the
    # reporter's retries; False: a live reply to one attempt (rules.toml [status_in_reports]).
    in_report: bool = False
    category: str = ""  # the reporter's own class of the failure (rules.toml [report_category])

    @property
    def lowered(self) -> str:
        return _SPACES.sub(" ", self.text.lower()).strip()


def decide(ev: Evidence) -> Reason:
    """The reason for one recipient (one of SPEC's, never empty)."""
    return Reason(_cause(ev))


def _cause(ev: Evidence) -> str:
    rules = _Memo(rule_set(), ev.in_report)
    if ev.hint and ev.hint not in REFINABLE:
        return ev.hint
    if ev.status.startswith("2."):
        return "delivered"
    text = ev.lowered
    found = provider_reason(
        text, ev.status, ev.reply, ev.command, ev.destination, ev.remote, ev.reporter
    )
    if found not in _VAGUE:
        return found
    if ev.spec.upper() in ("SMTP", "", "UNKNOWN"):  # Courier writes "unknown;"
        named = status_name(ev.status, ev.in_report)
        found = next(
            (
                name
                for name in rules.probe
                if _may_probe(rules, name, ev, named, text) and _probe(rules, name, ev, text)
            ),
            "",
        )
    if found:
        return found
    found = _another_one(rules, ev, text)
    if found in _VAGUE and ev.action == "delayed":
        found = "expired"
    if found not in _VAGUE:
        return found
    if ev.category in rules.rules.report_category:
        return rules.rules.report_category[ev.category]
    if rules.says("vacation", text):
        return "vacation"
    return "onhold" if text else "undefined"


class _Memo:
    """The rule set, remembering which phrases one reply contains (probes ask twice)."""

    def __init__(self, rules: RuleSet, in_report: bool) -> None:
        self.rules = rules
        self.in_report = in_report
        self.reasons = rules.reasons
        self.probe = rules.probe
        self.fallback = rules.fallback
        self._hits: frozenset[str] | None = None
        self._said: dict[str, bool] = {}

    def hits(self, text: str) -> frozenset[str]:
        if self._hits is None:
            self._hits = self.rules.scan(text)
        return self._hits

    def says(self, reason: str, text: str) -> bool:
        if reason not in self._said:
            rule = self.reasons.get(reason)
            barred = rule is not None and rule.only_in_reports and not self.in_report
            self._said[reason] = not barred and self.rules.says(reason, text, self.hits(text))
        return self._said[reason]

    def may_say(self, reason: str, text: str) -> bool:
        """Cheap necessary condition for says(): a phrase or an ordered gate was seen."""
        hits = self.hits(text)
        return reason in hits or reason + ORDERED_GATE in hits


def status_name(status: str, in_report: bool = False) -> str:
    """What an enhanced status code means on its own (rules.toml [status])."""
    if not status:
        return ""
    rules = rule_set()
    return (in_report and rules.status_in_reports.get(status)) or rules.status_names.get(status, "")


def _may_probe(rules: _Memo, name: str, ev: Evidence, named: str, text: str) -> bool:
    """Whether _probe() can succeed at all: it needs the hint, the status code, a
    decisive reply code or the reason's own words (or those it borrows)."""
    rule = rules.reasons[name]
    if name in (ev.hint, named) or (ev.reply and ev.reply in rule.reply_codes):
        return True
    return any(rules.may_say(other, text) for other in (name, *rule.also_text_of))


def _probe(rules: _Memo, name: str, ev: Evidence, text: str) -> bool:
    """Sisimai's first pass: may the status code or the text prove this reason?"""
    rule = rules.reasons[name]
    if ev.hint == name:
        return True
    named = status_name(ev.status, ev.in_report)
    if rule.needs_status and not ev.status:
        return False
    if named and named in rule.status_vetoed_by:
        return False
    if any(_probe(rules, other, ev, text) for other in rule.vetoed_by_probe):
        return False
    if ev.reply and ev.reply in rule.reply_codes:
        return True
    if named == name and rule.status_decides:
        return _status_confirmed(rules, rule, text)
    if name == "rejected":
        return _probe_rejected(rules, ev, text, named)
    if name == "norelaying" and ev.hint in ("securityerror", "systemerror", "undefined"):
        return False
    return _text_applies(rule, ev, text) and _says_any(rules, rule, text)


def _status_confirmed(rules: _Memo, rule: ReasonRule, text: str) -> bool:
    if any(rules.says(other, text) for other in rule.status_unless):
        return False
    if rule.status_needs:
        return any(rules.says(other, text) for other in rule.status_needs)
    return True


def _text_applies(rule: ReasonRule, ev: Evidence, text: str) -> bool:
    if rule.text_after and ev.command not in rule.text_after:
        return False
    return not (rule.text_not_after and ev.command in rule.text_not_after)


def _says_any(rules: _Memo, rule: ReasonRule, text: str) -> bool:
    return rules.says(rule.name, text) or any(rules.says(o, text) for o in rule.also_text_of)


def _probe_rejected(rules: _Memo, ev: Evidence, text: str, named: str) -> bool:
    """The envelope sender was refused: trust the text at MAIL, or where nothing else fits."""
    if ev.command == "MAIL":
        return rules.says("rejected", text)
    if ev.command == "DATA":
        return named != "userunknown" and rules.says("rejected", text)
    if named in ("", "undefined", "onhold", "securityerror", "systemerror"):
        return rules.says("rejected", text)
    return False


def _another_one(rules: _Memo, ev: Evidence, text: str) -> str:
    """Sisimai's second pass: text patterns, then what the status code alone says."""
    if ev.hint and ev.hint not in _VAGUE:
        return ev.hint
    named = status_name(ev.status, ev.in_report)
    if named and named not in REFINABLE and ev.spec.upper() == "SMTP":
        return named
    for name in rules.fallback:
        if rules.says(name, text):
            return name
    if named:
        return named
    if ev.status[1:3] == ".6":
        return "contenterror"
    if ev.status[1:3] == ".7":
        return "securityerror"
    if ev.spec.upper().startswith("X-UNIX"):
        return "mailererror"
    if _syntax_reply(ev.reply):
        return "syntaxerror"
    if ev.action in ("delayed", "expired"):
        return "expired"
    if ev.command in ("EHLO", "HELO"):
        return "blocked"
    return ""


def _syntax_reply(reply: str) -> bool:
    if not (reply.isascii() and reply.isdigit()):
        return False
    return 400 < int(reply) < 408 or 500 < int(reply) < 508
