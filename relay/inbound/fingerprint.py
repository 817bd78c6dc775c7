"""When two reports are "the same": what makes a report received twice count once.

Two reports are the same when they are about the same recipient row and say the same thing
about it: the kind, the feedback type, the Message-ID of the returned message, and for every
recipient result its address, action, status, reason, diagnostic and remote MTA. Left out is
what differs between two copies of one report: the report's own headers (Message-ID, Date,
Received: an MTA that retries after a lost 250 may write them anew, and a copy forwarded to the
complaint address has other ones), and the way the recipient was found (the bounce address
or the report reference).

So a second report with different news about the same recipient (another status or
diagnostic, a delay notice and then the failure) still counts; a repeated delay notice whose
words did not change is the same news and counts once. A report without a status of its own (an
auto-reply, a notice nobody could read) is told apart by its body text as well.
"""

import hashlib
import json

from bounces import Report


def fingerprint(report: Report, recipient: int, body: bytes = b"") -> str:
    """`body`: the report's body, for a report without a status of its own."""
    results = sorted(
        (
            r.address.lower(),
            r.action,
            r.status or "",
            str(r.reason),
            " ".join(r.diagnostic.split()),
            (r.remote_mta or "").lower(),
        )
        for r in report.recipients
    )
    text = hashlib.sha256(b" ".join(body.split())).hexdigest() if body else ""
    said = [recipient, report.kind, report.feedback_type or "", report.message_id or "", results]
    said.append(text)
    return hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()
