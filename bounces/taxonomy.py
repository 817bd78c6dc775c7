"""The closed set of reasons (SPEC.md "Bounces and complaints").

SPEC uses Sisimai's reason names so that results compare with it. Sisimai has a few
more, or renamed some over its versions; the rule files use SPEC's names for them:
  speeding (Sisimai 5.0)  -> ratelimited (Sisimai 5.2 merged it there: "too fast or too
                             many concurrency connections"); toomanyconn stays, as SPEC has it
  failedstarttls          -> securityerror (a required STARTTLS that failed or was missing)
  emailtoolarge (5.2)     -> mesgtoobig
The rule files are checked against this set when they are loaded (rules.py,
providers.py): a name outside it stops the import with the file and key to fix.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a recipient failed (or, for the last three, what a report that is no failure
    stands for). A str: compares and serialises as its name."""

    USERUNKNOWN = "userunknown"
    HOSTUNKNOWN = "hostunknown"
    MAILBOXFULL = "mailboxfull"
    MESGTOOBIG = "mesgtoobig"
    EXCEEDLIMIT = "exceedlimit"
    FILTERED = "filtered"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    SPAMDETECTED = "spamdetected"
    POLICYVIOLATION = "policyviolation"
    SECURITYERROR = "securityerror"
    VIRUSDETECTED = "virusdetected"
    EXPIRED = "expired"
    SUSPEND = "suspend"
    NORELAYING = "norelaying"
    NETWORKERROR = "networkerror"
    SYSTEMERROR = "systemerror"
    SYSTEMFULL = "systemfull"
    TOOMANYCONN = "toomanyconn"
    NOTACCEPT = "notaccept"
    MAILERERROR = "mailererror"
    HASMOVED = "hasmoved"
    SYNTAXERROR = "syntaxerror"
    CONTENTERROR = "contenterror"
    RATELIMITED = "ratelimited"
    REQUIREPTR = "requireptr"
    AUTHFAILURE = "authfailure"
    BADREPUTATION = "badreputation"
    NOTCOMPLIANTRFC = "notcompliantrfc"
    ONHOLD = "onhold"
    UNDEFINED = "undefined"
    # Not failures: a success notice, an auto-reply (RFC 3834), a complaint (RFC 5965).
    DELIVERED = "delivered"
    VACATION = "vacation"
    FEEDBACK = "feedback"


NOT_FAILURES = frozenset({Reason.DELIVERED, Reason.VACATION, Reason.FEEDBACK})


class UnknownReason(ValueError):
    """A rule file names a reason outside SPEC's list."""


def reason_named(name: str, where: str) -> Reason:
    """The Reason a rule file names; `where` says which file and key, for the error."""
    try:
        return Reason(name)
    except ValueError:
        known = ", ".join(Reason)
        raise UnknownReason(f"{where}: unknown reason {name!r}; SPEC's reasons: {known}") from None
