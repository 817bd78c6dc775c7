"""One classifier for every SMTP reply, wherever it came from.

A live reply from delivery, a synthesised reply for an expiry, the Status: and
Diagnostic-Code: of a DSN (RFC 3464 §2.3.4, §2.3.6) or a line of a text bounce
all go through `classify()`. The rules are data (rules.toml, reasons.toml, read
by rules.py and interpreted by reason.py), first match wins. Reason names are
Sisimai's, and so is the rule that a "hard bounce" means the address is dead:
a spam block, a policy refusal or a full mailbox never proves that.
"""

from __future__ import annotations

from dataclasses import dataclass

from bounces import status as codes
from bounces.reason import Evidence, decide
from bounces.taxonomy import NOT_FAILURES, Reason

# Reasons that prove the address itself cannot receive mail (Sisimai's "hard bounce");
# notaccept covers a null MX (RFC 7505) and "host does not accept mail" (RFC 7504, 556).
DEAD_REASONS = frozenset(
    {Reason.USERUNKNOWN, Reason.HOSTUNKNOWN, Reason.HASMOVED, Reason.NOTACCEPT}
)


@dataclass(frozen=True)
class Classification:
    reason: Reason  # one of SPEC's (a str)
    permanent: bool  # 5xx-class failure (no retry) vs temporary
    dead_address: bool  # proves the address dead: the relay may block it
    status: str | None  # enhanced status code used or found, e.g. "5.1.1"


def classify(
    code: int | None,
    status: str | None,
    text: str,
    *,
    command: str | None = None,
    action: str = "",
    hint: str = "",
    spec: str = "SMTP",
    remote_mta: str | None = None,
    recipient: str = "",
    reporting_mta: str = "",
    report: bool = False,
    category: str = "",
) -> Classification:
    """Map one reply (reply code, enhanced status, text) to a reason and a decision.

    `command` is the SMTP command the reply answered (RCPT, DATA, MAIL, EHLO, ...):
    pass it when known. "550 user unknown" after RCPT proves the mailbox absent;
    the same words after DATA come from a content filter (Sisimai: "filtered").
    Missing code or status are taken from the text ("550 5.1.1 ..." at its start).
    `remote_mta` (the MX that replied), `recipient` and `reporting_mta` let the rules
    of large providers apply (providers.toml). `report`: the reply is quoted in a bounce
    report, written after the reporter's retries, not a live reply to one attempt; only
    there can it mean "expired" (rules.toml [status_in_reports]). `category`: the
    reporting MTA's own class of the failure, used only where the words settle nothing.
    """
    text = codes.join_continuations(text or "")
    given = codes.status_field(status or "")
    in_text = codes.find_status(text, str(code)[:1] if code else "")
    reply = str(code) if code else codes.find_reply(text, in_text[:1])
    chosen = codes.prefer(given, in_text, reply)
    ev = Evidence(
        status=chosen,
        text=text,
        command=(command or "").upper(),
        reply=reply,
        action=action,
        hint=hint,
        spec=spec or "SMTP",
        destination=recipient.rpartition("@")[2],
        remote=remote_mta or "",
        reporter=reporting_mta,
        in_report=report,
        category=category,
    )
    reason = decide(ev)
    permanent = is_permanent(reason, chosen, reply, text)
    dead = permanent and reason in DEAD_REASONS
    return Classification(reason, permanent, dead, chosen or None)


def is_permanent(reason: str, status: str, reply: str, text: str) -> bool:
    """RFC 3463 §3.1: the class digit decides (5 permanent, 4 persistent transient)."""
    if reason in NOT_FAILURES:
        return False
    klass = (status or reply)[:1]
    if klass in ("4", "5"):
        return klass == "5"
    return bool(text.strip()) and not codes.is_temporary(text)
