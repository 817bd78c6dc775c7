"""The log of `relay serve`: what operators grep and feed to their log tools.

One line per accepted message, per delivery attempt and per bounce report (as Postfix logs one
line per delivery attempt), in one of two stable forms:

- `text`: `key=value` pairs (logfmt). A value with a space, a quote, an `=`, a backslash or a
  control character is a JSON string in double quotes, so every line parses and stays one line.
- `json`: one JSON object per line.

Every line starts with `time` (ISO 8601, UTC), `level` and `worker` (0-based, as in the
errors and in `ps`; `supervisor` for the process that watches the workers). An event line then
has `event=` and its fields; any other line has `msg=` (and `logger=`, `error=` with the
traceback when there is one). Nothing here logs a password, a token, a key or a message body:
callers pass only the fields listed in the event functions below.
"""

import datetime
import json
import logging
import re
import sys
import time
from typing import Any

FORMATS = ("text", "json")
SUPERVISOR = "supervisor"
_EVENT = "relay_event"
_FIELDS = "relay_fields"
# Bare in key=value form: anything printable that a logfmt parser cannot mistake.
_BARE = re.compile(r'[^\s"=\\\x00-\x1f\x7f-\x9f\u2028\u2029]+')
# json.dumps(ensure_ascii=False) leaves these raw; they would break a line in some tools.
_LINE_BREAKERS = re.compile(r"[\x7f-\x9f\u2028\u2029]")


class _Tag:
    """Which process this is; set once by setup(), read by every formatted line."""

    worker: int | str = 0


def setup(fmt: str = "text", *, worker: int | str = 0, verbose: bool = False) -> None:
    """Route every log record of this process to stderr in `fmt`, tagged with `worker`."""
    _Tag.worker = worker
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # No line shows the thread, the pid or the multiprocessing name (`worker` says which
    # process): a record need not look them up (a quarter of making one, two a message).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # aiosmtpd's "mail.log": its INFO lines are a sixth of a session's CPU and name every
    # RCPT (our List-Unsubscribe mailto tokens too), its DEBUG lines carry the AUTH LOGIN
    # exchange (base64 passwords) and the decoded credentials. Errors only, even with -v.
    logging.getLogger("mail.log").setLevel(logging.ERROR)


def capture_uncaught() -> None:
    """Warnings and an uncaught exception become log lines too (tagged, one line each), for
    a process whose whole output is a log (`relay serve`)."""
    logging.captureWarnings(True)

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        logging.getLogger("relay").critical("uncaught exception", exc_info=(kind, value, tb))

    sys.excepthook = hook


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event line: `event=name` followed by `fields` in the given order.

    The record is made directly (makeRecord + handle): `logger.log()` would walk the stack
    for the caller's file and line, which no line shows, two or three times per message."""
    if logger.isEnabledFor(level):
        extra = {_EVENT: name, _FIELDS: fields}
        logger.handle(logger.makeRecord(logger.name, level, "", 0, name, (), None, extra=extra))


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """Everything one line says, in order: the common tags, then the event or message."""
    out: dict[str, Any] = {
        "time": iso_time(record.created),
        "level": record.levelname.lower(),
        "worker": _Tag.worker,
    }
    name = getattr(record, _EVENT, None)
    if name is not None:
        out["event"] = name
        out.update(getattr(record, _FIELDS))
    else:
        out["msg"] = record.getMessage()
        out["logger"] = record.name
    if record.exc_info:
        out["error"] = logging.Formatter().formatException(record.exc_info)
    return out


def iso_time(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="milliseconds")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return key_values(fields_of(record))


def key_values(fields: dict[str, Any]) -> str:
    """`key=value key="a value"`: one line, however odd the values."""
    return " ".join(f"{key}={_text(value)}" for key, value in fields.items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(fields_of(record), ensure_ascii=False, default=str)
        return _LINE_BREAKERS.sub(_escape_char, line)


def _text(value: Any) -> str:
    if type(value) is str:  # most values: checked once, quoted only when needed
        if value != "-" and _BARE.fullmatch(value):
            return value
        return _LINE_BREAKERS.sub(_escape_char, json.dumps(value, ensure_ascii=False))
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if type(value) in (int, float):
        return str(value)
    return _text(str(value))


def _escape_char(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# -- the events ---------------------------------------------------------------------------
# Each takes the objects of its caller and picks the fields by name (no imports of theirs, so
# a module that moves does not break the log).

_log = logging.getLogger("relay.events")


def accepted(prepared: Any, client: str) -> None:
    """A message answered 250 (stored): one line, then one per recipient not sent at all."""
    event(
        _log,
        "accepted",
        id=prepared.id,
        shop=prepared.shop,
        kind=prepared.kind.name,
        order=prepared.order_ref,
        size=len(prepared.body),
        recipients=len(prepared.recipients),
        identity=prepared.identity.kind,
        client=client or None,
    )
    for plan in prepared.recipients:
        if plan.state != "queued":  # suppressed or failed at once: no attempt will follow
            event(
                _log,
                "not-sent",
                id=prepared.id,
                to=plan.address,
                state=plan.state,
                reason=plan.reason,
                detail=plan.detail,
            )


def attempt(row: dict[str, Any], attempt: Any, decision: Any, now: float | None = None) -> None:
    """One delivery attempt for one recipient (Postfix's `status=sent|deferred|bounced`).

    `mx` and `tls` are `-` when no connection was made (DNS, refused, timed out): the reply
    then is the relay's own words, `dsn` its enhanced status code."""
    now = time.time() if now is None else now
    reply = attempt.reply
    connected = attempt.mx_host is not None
    event(
        _log,
        "attempt",
        id=row["message"],
        to=row["address"],
        attempt=row["attempts"] + 1,
        mx=attempt.mx_host,
        tls=attempt.tls if connected else None,
        delay=round(now - row["created_at"], 2),
        duration_ms=attempt.duration_ms if connected else None,
        state=decision.state,
        reason=decision.reason,
        dsn=reply.status,
        reply=reply_text(reply),
        next=iso_time(decision.next_attempt_at) if decision.next_attempt_at else None,
    )


def reply_text(reply: Any) -> str:
    """A server's reply as it said it (`550 5.1.1 ...`); the relay's own words as they are,
    without a code that would read like a server's (the RFC 3463 status is in `dsn=`)."""
    return reply.text if reply.synthetic else str(reply)


def report(outcome: Any) -> None:
    """A bounce, delay notice, complaint or auto-reply that came back, and what it changed."""
    event(
        _log,
        "report",
        report=outcome.report_id,
        kind=outcome.kind,
        status=outcome.status,
        id=getattr(outcome, "message", None),
        to=getattr(outcome, "address", None),
        effect=outcome.effect,
    )


def auth_failure(client: str, mechanism: str, shop: str, refused_for: float | None = None) -> None:
    """A failed SMTP AUTH (`event=auth-failed`), or one refused unchecked by the throttle
    (`event=auth-refused`, `wait=` seconds until a check could run), for fail2ban
    (contrib/fail2ban/relay.conf): the client's address before the shop name it tried, which
    comes last and quoted when it needs to be; never the password."""
    if refused_for is None:
        event(_log, "auth-failed", logging.WARNING, client=client, mechanism=mechanism, shop=shop)
        return
    event(
        _log,
        "auth-refused",
        logging.WARNING,
        client=client,
        mechanism=mechanism,
        wait=round(refused_for),
        shop=shop,
    )
