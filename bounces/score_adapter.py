"""Adapter for ../shared/bounces/score.py: `--py bounces.score_adapter:verdict`.

The scorer's labels are Sisimai's (5.x) readings, in Sisimai's vocabulary and with its
conventions. The relay reads reports in SPEC's vocabulary and keeps RFC 3464's meaning of
Action, because its effects depend on it (relay/inbound/effects.py bounces a recipient
only on "failed"). This adapter says the same verdict in the scorer's terms; it changes
nothing that `parse_report` returns, so nothing the relay stores or shows.

A translation belongs here only if it is a general rule about names and conventions,
applied to every report alike, that says what we read without adding knowledge the relay
lacks. Those applied, ours -> the scorer's:

- action of a recipient whose reason is `expired` ("failed" after a give-up, "delayed"
  in a delay notice) -> "delayed". Sisimai::Fact sets action=delayed for every expired
  reason, whatever the report said: a convention of the labels, not a reading.
- reason `ratelimited` -> `speeding`, and our invented status X.0.945 -> X.0.946.
  One concept under two names: the labels' Sisimai (5.x, which has failedstarttls too)
  calls it speeding, later versions fold it into ratelimited; our phrases for it are
  Sisimai's Speeding list.
- `securityerror` whose reply is about transport encryption (it names STARTTLS or
  MTA-STS, says TLS is required or unsupported, or has reply code 523, 524 or 538)
  -> `failedstarttls`, and our invented X.0.970 -> X.0.976. That is Sisimai's own
  definition of the reason (FailedSTARTTLS: "STARTTLS, DANE, MTA-STS", those replies);
  SPEC has no such name and folds it into securityerror.
- a complaint (an auto-reply) that names no recipient -> a flat reason "feedback"
  ("vacation"). The kind is the reason; the scorer's reasons.py maps them one to one.

An invented status (X.0.9xx) is renamed only where we invented it: a code the report gave
stays. Refused as gaming, because they would make us say what we did not read:
- a delay notice's "delayed" turned "failed" (Sisimai's text-format modules report no
  Action, so its labels call them failed): the notice says the sender still retries;
- onhold turned undefined where the diagnostic is only the notice's lead sentence: the
  labels split such notices both ways, so no rule reproduces them;
- Sisimai's placeholder recipient for a complaint without one, or Original-Recipient
  instead of Final-Recipient (the flufl labels prefer one, Sisimai's the other).
"""

from __future__ import annotations

import re
from pathlib import Path

from bounces import parse_report, report_to_dict
from bounces.report import RecipientResult, Report
from bounces.status import PSEUDO_DETAIL

# Sisimai's FailedSTARTTLS: "the error related to STARTTLS, DANE, MTA-STS"; its reply codes.
# Words of a reply about TLS, not a bare "TLS": a diagnostic may quote the returned
# message's Received fields ("with Microsoft SMTP Server (TLS)").
_TRANSPORT_SECURITY = re.compile(
    r"starttls|mta-sts|\btls(?:/ssl| required| is required| negotiation| handshake)"
    r"|\b(?:requires?|supports?|encryption \() tls\b",
    re.I,
)
_STARTTLS_REPLIES = frozenset({523, 524, 538})
_REASON_OF_KIND = {"complaint": "feedback", "autoreply": "vacation"}


def verdict(path: str) -> dict:
    return in_sisimai_terms(parse_report(Path(path).read_bytes()))


def in_sisimai_terms(report: Report) -> dict:
    """report_to_dict(report), translated to the scorer's names (see the module doc)."""
    data = report_to_dict(report)
    for entry, result in zip(data["recipients"], report.recipients, strict=True):
        entry.update(_translated(result))
    if not report.recipients and report.kind in _REASON_OF_KIND:
        data["reason"] = _REASON_OF_KIND[report.kind]
    return data


def _translated(result: RecipientResult) -> dict:
    reason, status = str(result.reason), result.status
    changes: dict = {}
    if reason == "expired":
        changes["action"] = "delayed"
    name = _sisimai_name(result)
    if name != reason:
        changes["reason"] = name
        changes["status"] = _pseudo_renamed(status, reason, name)
    return changes


def _sisimai_name(result: RecipientResult) -> str:
    reason = str(result.reason)
    if reason == "ratelimited":
        return "speeding"
    if reason == "securityerror" and _about_starttls(result):
        return "failedstarttls"
    return reason


def _about_starttls(result: RecipientResult) -> bool:
    return result.code in _STARTTLS_REPLIES or bool(_TRANSPORT_SECURITY.search(result.diagnostic))


def _pseudo_renamed(status: str | None, ours: str, theirs: str) -> str | None:
    """Our invented code for `ours` (X.0.9xx) becomes Sisimai's for `theirs`."""
    if status and status[1:] == f".0.{PSEUDO_DETAIL[ours]}":
        return f"{status[0]}.0.{PSEUDO_DETAIL[theirs]}"
    return status
