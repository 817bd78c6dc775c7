"""Pure bounce handling: bytes in, dataclasses out. Imports nothing of the relay.

parse_report(raw) -> Report        DSN, ARF, auto-reply or text bounce; never raises
classify(code, status, text)       one classifier for every SMTP reply
Reason                             the closed set of reasons (SPEC's names; a str)
"""

from bounces.classify import Classification, classify
from bounces.parse import parse_report
from bounces.report import RecipientResult, Report, report_to_dict
from bounces.taxonomy import Reason

__all__ = [
    "Classification",
    "Reason",
    "RecipientResult",
    "Report",
    "classify",
    "parse_report",
    "report_to_dict",
]
