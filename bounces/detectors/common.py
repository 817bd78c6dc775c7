"""Helpers shared by the detectors: is this a bounce, where does the notice end."""

from __future__ import annotations

import re

from bounces import addresses, status
from bounces.context import Finding, Mail

_DAEMON_SENDER = re.compile(
    r"mailer[-_ ]?daemon|postmaster|mail delivery|mail ?administrator|mmdf|smtp[-_ ]?gateway|"
    r"mail router|delivery[-_ ]?(?:status|subsystem)|nobody@|root@|noreply|no-reply|"
    r"system administrator|bounce|postoffice|mailer@",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery|returned|failure|failed|fail |not delivered|"
    r"could not|couldn't|unable to deliver|rejected|bounce|non[- ]?remis|nondeliverable|"
    r"mail error|error|warning|delayed|problem|notification|unzustellbar|"
    r"無法|未送達|返送|不達|エラー",
    re.I,
)
# Where the copy of the original message begins (MTA-specific separators).
_RETURNED_MARKERS = re.compile(
    r"^(?:[-=_ ]*(?:original message|returned message|unsent message|"
    r"this is a copy of the message|below this line is a copy|"
    r"the original message|message follows|headers? of the original message|"
    r"copy of (?:the )?(?:original )?message|undelivered message|"
    r"text of the returned message|rfc822 message|original header)"
    r"|[-=]* ?start of (?:the )?(?:returned|original) message"
    r"|--- (?:below|the header of the original|the original)"
    r"|content-type: message/rfc822"
    r"|[-=]{3,} ?(?:original|forwarded|included) message)",
    re.I | re.M,
)
_SPACES = re.compile(r"\s+")


def looks_like_bounce(mail: Mail) -> bool:
    if _DAEMON_SENDER.search(mail.sender):
        return True
    if _BOUNCE_SUBJECT.search(mail.subject):
        return True
    if "multipart/report" in mail.header("content-type").lower():
        return True  # RFC 6522 report whose machine-readable part was unusable
    return_path = mail.header("return-path").strip()
    return return_path in ("<>", "") or bool(_DAEMON_SENDER.search(return_path))


def notice_text(mail: Mail) -> str:
    """The report's own words, without the copy of the original message."""
    text = mail.text
    match = _RETURNED_MARKERS.search(text)
    return text[: match.start()] if match and match.start() > 40 else text


def cut_at(text: str, markers: tuple[str, ...]) -> str:
    """Text before the first of `markers` (where the returned message begins)."""
    positions = [p for p in (text.find(m) for m in markers) if p >= 0]
    return text[: min(positions)] if positions else text


def after(text: str, markers: tuple[str, ...]) -> str:
    """Text from the first line containing one of `markers` on ('' if none)."""
    positions = [p for p in (text.find(m) for m in markers) if p >= 0]
    if not positions:
        return ""
    start = text.rfind("\n", 0, min(positions)) + 1
    return text[start:]


def sweep(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def hint_for(diagnostic: str, table: dict[str, tuple[str, ...]], lower: bool = True) -> str:
    """The first reason of `table` whose phrases occur in the diagnostic ('' if none)."""
    haystack = diagnostic.lower() if lower else diagnostic
    for reason, phrases in table.items():
        if any(p in haystack for p in phrases):
            return reason
    return ""


def pseudo_for(finding: Finding, temporary: bool) -> str:
    """Sisimai's detectors stamp a code from their own reading when the reply has none."""
    reply = status.find_reply(finding.diagnostic)
    in_text = status.find_status(finding.diagnostic, reply[:1])
    pseudo = status.pseudo_status(finding.hint, temporary or reply.startswith("4"))
    return status.prefer(in_text, pseudo, reply)


def own_addresses(mail: Mail) -> set[str]:
    """Addresses that are not failed recipients: the bounce's own From/To, the sender."""
    values = [mail.sender, mail.header("to"), mail.returned("from"), mail.returned("return-path")]
    values.append(mail.header("reply-to"))
    found: set[str] = set()
    for value in values:
        found.update(a.lower() for a in addresses.find_all(value))
    return found
