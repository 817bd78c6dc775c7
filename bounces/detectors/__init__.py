"""The ordered list of report detectors: the first one that recognises a report wins.

Order, and why:
  1. arf            RFC 5965 complaints (and SES/JMRP ones): never taken for bounces.
  2. amazonses      SES JSON notifications: exact, so they go first.
  3. family detectors, each gated on its MTA's fingerprints (headers, subject,
     fixed phrases) and so mutually exclusive in practice: domino, exim, sendmail,
     exchange2003, exchange (2007+/Office 365), postfix, googlegroups, gmail,
     opensmtpd, dragonfly, qmail, imailserver, trendmicro, ezweb, v5sendmail,
     fml, aol, zoho.  They come before the RFC 3464 reader because their
     human-readable part often names the recipient or the cause better than
     their (sometimes broken or missing) delivery-status part does.
  4. rfc3464        any other standard DSN, enriched from its human-readable part.
  5. rfc3834        auto-replies, after every bounce reader so that a bounce that
                    also says "Auto-Submitted: auto-replied" stays a bounce.
  6. nested         a bounce forwarded as an attachment: its inner message is read.
  7. generic        any other bounce: an address on a line of its own (or named in
                    running text) and the reply after it.
"""

from __future__ import annotations

from collections.abc import Callable

from bounces import arf, autoreply, dsn
from bounces.context import Detection, Mail
from bounces.detectors import (
    amazonses,
    aol,
    domino,
    dragonfly,
    exchange,
    exchange2003,
    exim,
    ezweb,
    fml,
    generic,
    gmail,
    googlegroups,
    imailserver,
    nested,
    opensmtpd,
    postfix,
    qmail,
    sendmail,
    trendmicro,
    v5sendmail,
    zoho,
)

Detector = Callable[[Mail], Detection | None]

ORDERED: tuple[tuple[str, Detector], ...] = (
    ("arf", arf.detect),
    ("amazonses", amazonses.detect),
    ("domino", domino.detect),
    ("exim", exim.detect),
    ("sendmail", sendmail.detect),
    ("exchange2003", exchange2003.detect),
    ("exchange", exchange.detect),
    ("postfix", postfix.detect),
    ("googlegroups", googlegroups.detect),
    ("gmail", gmail.detect),
    ("opensmtpd", opensmtpd.detect),
    ("dragonfly", dragonfly.detect),
    ("qmail", qmail.detect),
    ("imailserver", imailserver.detect),
    ("trendmicro", trendmicro.detect),
    ("ezweb", ezweb.detect),
    ("v5sendmail", v5sendmail.detect),
    ("fml", fml.detect),
    ("aol", aol.detect),
    ("zoho", zoho.detect),
    ("rfc3464", dsn.detect),
    ("rfc3834", autoreply.detect),
    ("nested", nested.detect),
    ("generic", generic.detect),
)


def run(mail: Mail, errors: list[str], strict: bool = False) -> Detection | None:
    """The first detector's reading; a detector that raises is recorded in `errors`
    and skipped (`strict`: the exception propagates, for tests)."""
    for name, detect in ORDERED:
        try:
            found = detect(mail)
        except Exception as exc:  # one broken detector must not make the report unreadable
            if strict:
                raise
            errors.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
            continue
        if found is not None and (found.findings or found.kind):
            return found
    return None
