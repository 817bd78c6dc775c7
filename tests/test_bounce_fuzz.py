"""parse_report() never raises and stays fast, whatever it is fed; and a bug of ours is seen.

parse_report() catches everything so that the listener never breaks; that alone would make
these tests pass whatever happens inside. So they call it with strict=True, which lets an
exception of a detector or of the reader propagate, and check that the lenient call records
none (Report.errors) and never falls back to format "unreadable".
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounces import Report, detectors, parse_report, report_to_dict
from tests.timed import seconds_to_run

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bounces" / "corpus" / "maildir" / "bsd"
GOLDEN = Path(__file__).parent / "data" / "bounces"
SAMPLES = sorted(CORPUS.glob("*.eml"))[:60] or sorted(GOLDEN.glob("*.eml"))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Content-Type",
        "Content-Transfer-Encoding",
        "X-Failed-Recipients",
        "Auto-Submitted",
        "Final-Recipient",
        "Status",
        "Diagnostic-Code",
        "Received",
        "MIME-Version",
    ]
)
MIMEISH = st.sampled_from(
    [
        'multipart/report; report-type=delivery-status; boundary="b"',
        "multipart/report; report-type=feedback-report; boundary=b",
        "multipart/mixed; boundary=",
        "message/delivery-status",
        "message/rfc822",
        "text/plain; charset=x-unknown",
        "text/plain; charset=iso-2022-jp",
        "base64",
        "quoted-printable",
        "rfc822; max@example.org",
        "5.1.1",
        "smtp; 550 5.1.1 user unknown",
        "=?utf-8?B?broken?=",
        "=?unknown?Q?x?=",
        "text/plain; charset=punycode",
        "text/plain; charset=idna",
        "=?punycode?q?abc-+++?=",
    ]
)
LINE = st.one_of(
    st.tuples(HEADER_NAMES, MIMEISH).map(lambda t: f"{t[0]}: {t[1]}"),
    st.sampled_from(
        ["--b", "--b--", "", "<max@example.org>: 550 5.1.1 unknown", "=", "Action: failed"]
    ),
    st.text(max_size=80),
)


KINDS = ("bounce", "delay", "complaint", "autoreply", "delivered", "other")


def _read(raw: bytes) -> Report:
    """Read strictly (an exception inside fails the test), then leniently: the same."""
    strict = parse_report(raw, strict=True)
    lenient = parse_report(raw)
    assert isinstance(strict, Report) and strict.kind in KINDS
    assert lenient.errors == [] and lenient.format != "unreadable"
    assert report_to_dict(lenient) == report_to_dict(strict)
    return strict


@FUZZ
@given(st.binary(max_size=4096))
def test_binary_garbage(raw: bytes) -> None:
    _read(raw)


@FUZZ
@given(st.lists(LINE, max_size=60), st.sampled_from(["\n", "\r\n", "\r"]))
def test_malformed_mime(lines: list[str], newline: str) -> None:
    raw = newline.join(lines).encode("utf-8", "surrogatepass")
    _read(raw)


@pytest.mark.skipif(not SAMPLES, reason="no sample reports")
@FUZZ
@given(st.sampled_from(SAMPLES or [GOLDEN]), st.floats(0, 1), st.sampled_from([b"", b"\x00\xff"]))
def test_truncated_reports(path: Path, fraction: float, tail: bytes) -> None:
    raw = path.read_bytes()
    _read(raw[: int(len(raw) * fraction)] + tail)


@pytest.mark.skipif(not SAMPLES, reason="no sample reports")
@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_samples_are_read_without_errors(path: Path) -> None:
    report = _read(path.read_bytes())
    assert report.format != "none", "a real report was not recognised at all"


def test_a_raising_detector_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard of these tests works: a detector that raises makes strict mode raise;
    the lenient reading records it and still reads the report with the next detector."""

    def broken(mail: object) -> None:
        raise IndexError("list index out of range")

    ordered = [(name, broken if name == "postfix" else fn) for name, fn in detectors.ORDERED]
    monkeypatch.setattr(detectors, "ORDERED", tuple(ordered))
    raw = (GOLDEN / "lhost-postfix-02.eml").read_bytes()
    with pytest.raises(IndexError):
        parse_report(raw, strict=True)
    report = parse_report(raw)
    assert report.errors == ["postfix: IndexError: list index out of range"]
    assert report.format == "rfc3464" and report.recipients


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: " + b"x" * 3_000_000 + b"\n\nbody",
        b"".join(b"X-H%d: v\n" % i for i in range(100_000)) + b"\nbody",
        b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i)
            for i in range(3000)
        ),
        b"From: mailer-daemon@example.org\nSubject: failure notice\n\n"
        + b"<a@b.example>:\n550 x\n" * 50_000,
        b"From: mailer-daemon@example.org\nSubject: Undelivered\n\n" + b"(" * 1_000_000 + b"@",
        b"Subject: x\n\n" + b'{"notificationType":"Bounce","bounce":' + b"[" * 100_000,
    ],
    ids=["huge-header", "many-headers", "deep-nesting", "many-addresses", "parens", "deep-json"],
)
def test_pathological_inputs_are_fast(raw: bytes) -> None:
    started = time.perf_counter()
    _read(raw)
    assert time.perf_counter() - started < 10.0  # linear work takes well under 1 s; a
    # quadratic blow-up on these sizes takes minutes, so a loaded machine cannot confuse them


_DSN = (
    b"From: MAILER-DAEMON@mx.example.org\nSubject: %s\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
    b"--b\nContent-Type: text/plain; charset=%s\n\n%s\n\n"
    b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
    b"Final-Recipient: rfc822; anna@example.net\nAction: failed\nStatus: 5.1.1\n\n--b--\n"
)
_TEXT_DSN = (
    "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered\n"
    "Content-Type: text/plain; charset=utf-8\n\nReporting-MTA: dns; mx.example.org\n\n"
    "Final-Recipient: rfc822; anna@example.net\nAction: failed\nStatus: 5.1.1\n%s\n"
)
_SES = b"From: no-reply@amazonses.com\nSubject: SES\n\n%s\n"


@pytest.mark.parametrize(
    "raw",
    [
        _DSN % (b"=?punycode?q?abc-+++?=", b"us-ascii", b"failed"),
        _DSN % (b"Undelivered", b"punycode", b"failed"),
        _DSN % (b"Undelivered", b"punycode", b"fehlgeschlagen f\xc3\xbcr \x80"),
        _DSN % (b"Undelivered", b"idna", b"fehlgeschlagen f\xc3\xbcr \x80"),
        (_TEXT_DSN % "X-SMTP-Reply-Code: \u00b2\u00b2\u00b2").encode(),
        (_TEXT_DSN % "Diagnostic-Code: smtp; \u2075\u2075\u2070 x").encode(),
        _SES % b'{"notificationType": "Bounce", "bounce": ["x"]}',
        _SES % b'{"notificationType": "Complaint", "complaint": "abuse"}',
        _SES % b'{"notificationType": "Delivery", "delivery": [1]}',
    ],
    ids=[
        "punycode-subject",
        "punycode-part",
        "punycode-8bit-part",
        "idna-8bit-part",
        "superscript-reply-code",
        "superscript-diagnostic",
        "ses-bounce-list",
        "ses-complaint-string",
        "ses-delivery-list",
    ],
)
def test_hostile_inputs_are_still_read(raw: bytes) -> None:
    """Inputs that once raised inside the parser."""
    _read(raw)


# Anyone may send a report (the complaint address needs no token), so every pattern the parser
# runs must be linear. A backtracking one holds the GIL for the whole match: only a child
# process with a deadline can tell "slow" from "hung", and the hung one is named.
_EXCHANGE_MAILTO = """
from bounces import parse_report
lines = "\\r\\n".join(["@<mailto:" * 200] * 4)  # 4 lines of 1.8 KB: once ~20 s
raw = ("From: postmaster@outlook.example\\r\\nTo: fbl@relay.example.net\\r\\n"
       "Subject: Undeliverable: your order\\r\\nX-MS-Exchange-Message-Is-Ndr: yes\\r\\n"
       "Content-Type: text/plain\\r\\n\\r\\n"
       "Delivery has failed to these recipients or groups:\\r\\n\\r\\n" + lines + "\\r\\n")
parse_report(raw.encode())
"""
_POSTFIX_BLANK_LINES = """
from bounces import parse_report
raw = ("From: MAILER-DAEMON@mx.example.net\\r\\nTo: fbl@relay.example.net\\r\\n"
       "Subject: Undelivered Mail Returned to Sender\\r\\nContent-Type: text/plain\\r\\n\\r\\n"
       + "\\r\\n" * 100_000 + "x\\r\\n")  # 200 KB of empty lines: once ~10 s, 10 MB hours
parse_report(raw.encode())
"""


@pytest.mark.parametrize(
    "code", [_EXCHANGE_MAILTO, _POSTFIX_BLANK_LINES], ids=["exchange-mailto", "postfix-starts"]
)
def test_a_small_hostile_report_is_parsed_in_well_under_a_second(code: str) -> None:
    # Milliseconds when linear; the deadline is far above that, far below the old cost.
    took = seconds_to_run(code, deadline=5.0)
    assert took is not None, "parse_report was still running after 5 s"


_WRAPPERS = (  # headers that lead the parser to each family of detectors
    "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n",
    "From: postmaster@outlook.example\nSubject: Undeliverable: x\n"
    "X-MS-Exchange-Message-Is-Ndr: yes\n",
    "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nSubject: Returned mail: x\n",
    "From: mailer-daemon@zoho.example\nX-ZohoMail: Si\nSubject: Undelivered Mail\n",
    "From: postmaster@exchange.example\nSubject: Undeliverable: x\nX-Mailer: Internet Mail"
    " Service (5.5.2653.19)\n",
    "From: MAILER-DAEMON@imail.example\nX-Mailer: <SMTP32 v8.22>\nSubject: Undeliverable Mail\n",
)
_ADVERSARIAL = """
import sys
from bounces import parse_report
from tests.redos import hostile_inputs, patterns_of
from tests.test_bounce_fuzz import _WRAPPERS

for found in patterns_of(MODULE):
    print("trying", found.where, flush=True)
    for _, text in list(hostile_inputs(found.pattern, size=100_000))[:6]:
        for head in _WRAPPERS:
            raw = head + "Content-Type: text/plain\\n\\n" + text
            parse_report(raw.encode("utf-8", "replace"))
"""


def _bounce_modules() -> list[str]:
    import pkgutil

    import bounces

    return ["bounces", *(m.name for m in pkgutil.walk_packages(bounces.__path__, "bounces."))]


@pytest.mark.parametrize("module", _bounce_modules())
def test_no_pattern_backtracks_on_text_made_of_its_own_pieces(module: str) -> None:
    """Every regular expression of `bounces/`, searched over 20 KB strings built from its own
    literals and classes (tests/redos.py): linear ones take milliseconds, and the limit of
    0.25 s a search is far below what the quadratic ones took (1 to 8 s)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.redos", module],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=240,
    )
    slow = [line for line in done.stdout.splitlines() if line.startswith("SLOW")]
    assert done.returncode == 0 and not slow, "\n".join(slow) or done.stdout[-2000:] + done.stderr


@pytest.mark.parametrize("module", ["bounces.detectors", "bounces.addresses", "bounces.smtp"])
def test_every_detector_reads_100_kb_of_adversarial_text_within_a_deadline(module: str) -> None:
    """The whole parser (every detector the headers lead to), on 100 KB reports whose text is
    built from each pattern's pieces; lines are cut at 2,000 characters before detectors."""
    code = _ADVERSARIAL.replace("MODULE", repr(module))
    took = seconds_to_run(code, deadline=200.0)
    assert took is not None, "a 100 KB report kept the parser busy: see the last 'trying'"
